package tests

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pyETRN says EHLO and then ETRN for each domain given, printing each
// reply, with Python's smtplib.
const pyETRN = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
s = smtplib.SMTP(host, int(port), timeout=20)
s.ehlo("backup.client.example")
print("etrn offered:", s.has_extn("etrn"))
for d in sys.argv[2:]:
    code, msg = s.docmd("ETRN", d)
    print(code, msg.decode())
s.quit()
`

// TestETRN: ETRN and smtpd_etrn_restrictions were refused or unknown,
// as a backup MX's admin would use them. A client allowed by
// smtpd_etrn_restrictions asks for a domain of fast_flush_domains and
// its deferred mail is tried again at once, despite an hour of back-off;
// a domain outside fast_flush_domains gets 459, and a client the
// restrictions refuse 554.
func TestETRN(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there: deliveries are refused
	in := newInstance(t, options{
		master: testMasterCF + "smtp unix - - n - - smtp\n127.0.0.1:0 inet n - n - - smtpd\n" +
			"127.0.0.2:0 inet n - n - - smtpd\n  -o smtpd_etrn_restrictions=reject\n",
		main: []string{"relay_domains = backup.tst", "smtp_tls_security_level = none",
			"transport_maps = inline:{ backup.tst=smtp:[" + strings.Replace(deadAddr, ":", "]:", 1) + " }",
			"minimal_backoff_time = 1h", "maximal_backoff_time = 1h", "queue_run_delay = 1h",
			"smtpd_etrn_restrictions = permit_mynetworks, reject", "smtpd_error_sleep_time = 0"},
	})
	in.start()
	if code, out := in.sendmail("Subject: held\n\nfor the primary\n", "someone@backup.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	deferred := regexp.MustCompile(`to=<someone@backup\.tst>, .*status=deferred`)
	waitFor(t, 20*time.Second, "the first deferral", func() bool { return deferred.MatchString(in.log()) })
	// ETRN finds deferred mail only once qmgr has saved the deferral.
	in.waitQueueListing([]string{"Connection refused"}, "mailq")

	out, err := pythonSMTP(t, pyETRN, in.smtpAddr("127.0.0.1:0"), "backup.tst", "elsewhere.tst", "#queue")
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, want := range []string{"etrn offered: True", "250 2.0.0 Queuing started", "459 4.7.1 <elsewhere.tst>: service unavailable", "458 4.7.1 Unable to queue messages for #queue"} {
		if !strings.Contains(out, want) {
			t.Errorf("ETRN replies lack %q:\n%s", want, out)
		}
	}
	waitFor(t, 20*time.Second, "a second attempt after ETRN", func() bool {
		return len(deferred.FindAllString(in.log(), -1)) >= 2
	})

	out, _ = pythonSMTP(t, pyETRN, in.smtpAddr("127.0.0.2:0"), "backup.tst")
	if !strings.Contains(out, "554 5.7.1 <backup.tst>: Etrn command rejected: Access denied") {
		t.Errorf("smtpd_etrn_restrictions = reject did not refuse:\n%s", out)
	}
}
