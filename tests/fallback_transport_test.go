package tests

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFallbackTransportToOldServer: fallback_transport (and its _maps)
// had no effect and mail for names without an account bounced. A
// migration's usual set-up sends such names on to the old server, here a
// second tern: local hands the recipient to the smtp service, which
// delivers and logs it; known users are still delivered here.
func TestFallbackTransportToOldServer(t *testing.T) {
	rcpt := localUser(t)
	old := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main: []string{"myhostname = old.example.tst", "mydestination = $myhostname, example.tst",
			"smtpd_error_sleep_time = 0", "alias_maps = inline:{ notmigrated=" + rcpt + " }", "alias_database ="},
	})
	old.start()
	addr := old.smtpAddr("127.0.0.1:0")
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, options{
		master: testMasterCF + "smtp unix - - n - - smtp\n",
		main: []string{"fallback_transport = smtp:[" + host + "]:" + port, "smtp_tls_security_level = none",
			"myhostname = new.example.tst", "mydestination = $myhostname, example.tst"},
	})
	in.start()
	if code, out := in.sendmail("Subject: old\n\nfor the old server\n", "notmigrated@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	if code, out := in.sendmail("Subject: here\n\nfor a migrated user\n", rcpt+"@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	old.waitMbox(rcpt, "for the old server")
	in.waitMbox(rcpt, "for a migrated user")
	sent := regexp.MustCompile(`tern/smtp\[\d+\]: \w+: to=<notmigrated@example\.tst>, relay=` + regexp.QuoteMeta(host) + `\[` +
		regexp.QuoteMeta(host) + `\]:` + port + `, .*status=sent`)
	waitFor(t, 10*time.Second, "the smtp agent's sent line", func() bool { return sent.MatchString(in.log()) })
	if strings.Contains(old.mbox(rcpt), "for a migrated user") || strings.Contains(in.mbox(rcpt), "for the old server") {
		t.Errorf("a message went the wrong way")
	}
	if n := strings.Count(in.log(), "to=<notmigrated@example.tst>"); n != 1 {
		t.Errorf("the delegated recipient is logged %d times, want once:\n%s", n, in.log())
	}
}
