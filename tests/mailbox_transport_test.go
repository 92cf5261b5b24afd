package tests

import (
	"regexp"
	"strings"
	"testing"
)

// TestMailboxTransportToDovecot: the usual Dovecot setup for a local
// domain, mailbox_transport = lmtp:unix:private/dovecot-lmtp, was
// reported as having no effect and tern's local wrote the system mbox.
// Now local hands mailbox delivery to the lmtp service: for a system
// user after its aliases, and, as in Postfix, for a name that only
// Dovecot knows. Each delivery is logged once, by lmtp.
func TestMailboxTransportToDovecot(t *testing.T) {
	rcpt := localUser(t)
	dv := startDovecotLMTP(t, []string{rcpt + "@example.tst", "dovecotonly@example.tst"}, mailUser(t))
	in := newInstance(t, options{
		master:  testMasterCF + "lmtp unix - - n - - lmtp\n",
		main:    []string{"mailbox_transport = lmtp:unix:" + dv.socket, "local_recipient_maps ="},
		aliases: "team: " + rcpt + "\n",
	})
	in.start()
	for _, to := range []string{"team@example.tst", "dovecotonly@example.tst"} {
		if code, out := in.sendmail("Subject: to "+to+"\n\nbody for "+to+"\n", "-f", "someone@remote.tst", to); code != 0 {
			t.Fatalf("sendmail: %d %s", code, out)
		}
	}
	for _, c := range []struct{ local, marker string }{{rcpt, "body for team@example.tst"}, {"dovecotonly", "body for dovecotonly@example.tst"}} {
		waitFor(t, deliveryTimeout, "the message in the Maildir of "+c.local, func() bool {
			for _, m := range dv.maildirNew(c.local, "example.tst") {
				if strings.Contains(m, c.marker) {
					return true
				}
			}
			return false
		})
	}
	// The Maildirs fill before the agents log: wait until both messages
	// have left the queue, after every delivery line.
	waitFor(t, deliveryTimeout, "both messages removed from the queue", func() bool {
		return strings.Count(in.log(), ": removed") >= 2
	})
	if m := in.mbox(rcpt); m != "" {
		t.Errorf("local wrote the system mailbox too:\n%s", m)
	}
	log := in.log()
	for _, to := range []string{rcpt + "@example.tst", "dovecotonly@example.tst"} {
		sent := regexp.MustCompile(`tern/lmtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(to) + `>.*status=sent`)
		if n := len(sent.FindAllString(log, -1)); n != 1 {
			t.Errorf("%d lmtp status=sent lines for %s, want 1:\n%s", n, to, log)
		}
	}
	if regexp.MustCompile(`tern/local\[\d+\]: \w+: to=<dovecotonly@example\.tst>, relay=`).MatchString(log) {
		t.Errorf("local logged the delegated delivery again:\n%s", log)
	}
}
