package tests

import (
	"regexp"
	"testing"
)

// TestSenderDependentRelayAndLogin: a host that sends each user's mail
// through that user's own provider, as Postfix guides set it up with
// sender_dependent_relayhost_maps and smtp_sender_dependent_authentication
// (both were unknown parameters). Alice's mail goes to her relay with her
// login; everyone else's goes to relayhost with the login for it.
func TestSenderDependentRelayAndLogin(t *testing.T) {
	rcpt := localUser(t)
	users := map[string]string{"alice": "alice-pw", "relayuser": "relay-pw"}
	alicesRelay, defaultRelay := plainAuthReceiver(t, users), plainAuthReceiver(t, users)
	aliceHop := "[127.0.0.1]:" + portOf(t, alicesRelay.smtpAddr("127.0.0.1:0"))
	defaultHop := "[127.0.0.1]:" + portOf(t, defaultRelay.smtpAddr("127.0.0.1:0"))
	sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
		"relayhost = "+defaultHop,
		"sender_dependent_relayhost_maps = inline:{ alice@sender.tst="+aliceHop+" }",
		"smtp_sasl_auth_enable = yes",
		"smtp_sasl_security_options = noanonymous",
		"smtp_sender_dependent_authentication = yes",
		"smtp_sasl_password_maps = inline:{ alice@sender.tst=alice:alice-pw, "+defaultHop+"=relayuser:relay-pw }",
	)})
	sender.start()
	for _, from := range []string{"alice@sender.tst", "bob@sender.tst"} {
		if code, out := sender.sendmail("Subject: from "+from+"\n\nbody from "+from+"\n", "-f", from, rcpt+"@example.tst"); code != 0 {
			t.Fatalf("sendmail: %d %s", code, out)
		}
	}
	alicesRelay.waitMbox(rcpt, "body from alice@sender.tst")
	defaultRelay.waitMbox(rcpt, "body from bob@sender.tst")
	for _, c := range []struct {
		in   *instance
		user string
	}{{alicesRelay, "alice"}, {defaultRelay, "relayuser"}} {
		c.in.waitLogMatch(regexp.MustCompile(`client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=`+c.user+`\n`), deliveryTimeout)
	}
	if m := alicesRelay.mbox(rcpt); regexp.MustCompile("body from bob").MatchString(m) {
		t.Errorf("bob's mail went through alice's relay")
	}
}
