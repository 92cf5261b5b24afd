package tests

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRejectUnverifiedRecipient: reject_unverified_recipient made tern
// refuse to start. A gateway that relays corp.tst to an inner server
// (a second tern, which knows its users) now probes each recipient
// there (MAIL and RCPT, then RSET: nothing is delivered) before it says
// 250: an existing user is accepted and relayed; an unknown one gets the
// inner server's refusal back, as 450 4.1.1 (unverified_recipient_reject_code)
// or, with 550 set, 550 5.1.1; the probe's results are logged as
// deliverable and undeliverable.
func TestRejectUnverifiedRecipient(t *testing.T) {
	rcpt := localUser(t)
	inner := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main:   []string{"myhostname = inner.corp.tst", "mydestination = $myhostname, corp.tst", "smtpd_error_sleep_time = 0"},
	})
	inner.start()
	host, port, err := net.SplitHostPort(inner.smtpAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	gw := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\nsmtp unix - - n - - smtp\n",
		main: []string{"myhostname = gw.example.tst", "mydestination = $myhostname",
			"relay_domains = corp.tst", "transport_maps = inline:{ corp.tst=smtp:[" + host + "]:" + port + " }",
			"smtp_tls_security_level = none", "smtpd_error_sleep_time = 0",
			"smtpd_recipient_restrictions = reject_unauth_destination, reject_unverified_recipient",
			"address_verify_poll_delay = 200ms", "address_verify_poll_count = 25",
			"unverified_recipient_reject_code = 550"},
	})
	gw.start()
	addr := gw.smtpAddr("127.0.0.1:0")

	out, err := swaks(t, "--server", addr, "--from", "someone@remote.tst", "--to", rcpt+"@corp.tst", "--body", "verified and relayed")
	if err != nil {
		t.Fatalf("a deliverable recipient was refused: %v\n%s", err, out)
	}
	inner.waitMbox(rcpt, "verified and relayed")

	out, _ = swaks(t, "--server", addr, "--from", "someone@remote.tst", "--to", "nosuchuser@corp.tst", "--body", "never")
	if !regexp.MustCompile(`<\*\* 550 5\.1\.1 <nosuchuser@corp\.tst>: Recipient address rejected: undeliverable address: host \S+ said: 550 5\.1\.1 <nosuchuser@corp\.tst>: Recipient address rejected: User unknown`).MatchString(out) {
		t.Errorf("an undeliverable recipient was not refused with the inner server's reason:\n%s", out)
	}
	log := gw.log()
	for _, want := range []string{`to=<` + regexp.QuoteMeta(rcpt+"@corp.tst>, relay="+host+"["+host+"]:"+port) + `, .*status=deliverable \(250 2\.1\.5`,
		`to=<nosuchuser@corp\.tst>, relay=.*status=undeliverable \(host .* said: 550 5\.1\.1`} {
		if !regexp.MustCompile(want).MatchString(log) {
			t.Errorf("the gateway's log lacks %q:\n%s", want, log)
		}
	}
	// Nothing but the one relayed message reached the inner server: the
	// probes ended with RSET.
	inner.waitQueueEmpty()
	if n := strings.Count(inner.log(), "status=sent"); n != 1 {
		t.Errorf("the inner server delivered %d messages, want 1:\n%s", n, inner.log())
	}

	// The answers outlive a reload, which restarts qmgr, in the file of
	// address_verify_map (its default, in data_directory): with the inner
	// server gone, so that no probe could succeed, the known recipient is
	// still accepted and the unknown one still refused.
	gw.reload()
	inner.stop()
	out, err = swaks(t, "--server", addr, "--quit-after", "RCPT", "--from", "someone@remote.tst", "--to", rcpt+"@corp.tst")
	if err != nil || !strings.Contains(out, "<-  250 2.1.5") {
		t.Errorf("after a reload the deliverable recipient was not accepted from the cache: %v\n%s", err, out)
	}
	out, _ = swaks(t, "--server", addr, "--quit-after", "RCPT", "--from", "someone@remote.tst", "--to", "nosuchuser@corp.tst")
	if !strings.Contains(out, "<** 550 5.1.1 <nosuchuser@corp.tst>: Recipient address rejected: undeliverable address: host") {
		t.Errorf("after a reload the undeliverable recipient was not refused from the cache:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(gw.dir, "data", "verify_cache.db")); err != nil {
		t.Errorf("no cache file: %v", err)
	}
}
