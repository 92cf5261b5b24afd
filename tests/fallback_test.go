package tests

import (
	"regexp"
	"testing"
)

// TestFallbackRelay: smtp_fallback_relay was reported as having no
// effect, so mail whose destination was down waited in the queue and
// mail for a domain that does not exist bounced. Both now go to the
// fallback relay, as in Postfix; a null MX still bounces.
func TestFallbackRelay(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t, "smtp_fallback_relay = [127.0.0.1]")
	for _, to := range []string{rcpt + "@broken.tst", rcpt + "@nosuchdomain.tst", rcpt + "@nullmx.tst"} {
		if code, out := p.sender.sendmail("Subject: to "+to+"\n\nbody\n", "-f", "a@sender.tst", to); code != 0 {
			t.Fatalf("sendmail: %d %s", code, out)
		}
	}
	for _, to := range []string{rcpt + "@broken.tst", rcpt + "@nosuchdomain.tst"} {
		sent := regexp.MustCompile(`to=<` + regexp.QuoteMeta(to) + `>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + p.port + `, .*status=sent`)
		waitFor(t, deliveryTimeout, "the fallback relay's status=sent for "+to, func() bool { return sent.MatchString(p.sender.log()) })
	}
	bounced := regexp.MustCompile(`to=<` + regexp.QuoteMeta(rcpt) + `@nullmx\.tst>, .*dsn=5\.1\.10, status=bounced`)
	waitFor(t, deliveryTimeout, "the null MX bounce", func() bool { return bounced.MatchString(p.sender.log()) })
}
