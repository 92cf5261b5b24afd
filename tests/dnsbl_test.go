package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// TestDNSBLRejectsListedClients: reject_rbl_client and
// reject_rhsbl_sender ask a DNS list (an in-process DNS server named by
// tern_dns_servers) and reject listed clients and senders with Postfix's
// reply; others get through.
func TestDNSBLRejectsListedClients(t *testing.T) {
	rcpt := localUser(t)
	dns := mxtest.NewServer(t, `
2.0.0.127.zen.bl.tst.    A   127.0.0.4
2.0.0.127.zen.bl.tst.    TXT "listed: see https://bl.tst/query/127.0.0.2"
spam.tst.dbl.bl.tst.     A   127.0.1.2
`)
	in, _ := smtpdInstance(t, "tern_dns_servers = "+dns.Addr(),
		"smtpd_client_restrictions = reject_rbl_client zen.bl.tst=127.0.0.[2..11]",
		"smtpd_sender_restrictions = reject_rhsbl_sender dbl.bl.tst")
	send := func(local, from, body string) (string, error) {
		return swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--local-interface", local, "--from", from,
			"--to", rcpt+"@example.tst", "--ehlo", "client.remote.tst", "--body", body)
	}
	out, err := send("127.0.0.2", "someone@remote.tst", "from a listed client")
	if err == nil || !strings.Contains(out, "<** 554 5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.bl.tst; listed: see https://bl.tst/query/127.0.0.2") {
		t.Errorf("listed client: %v\n%s", err, out)
	}
	out, err = send("127.0.0.3", "someone@spam.tst", "from a listed sender domain")
	if err == nil || !strings.Contains(out, "<** 554 5.7.1 Service unavailable; Sender address [someone@spam.tst] blocked using dbl.bl.tst") {
		t.Errorf("listed sender: %v\n%s", err, out)
	}
	if out, err := send("127.0.0.3", "someone@remote.tst", "from a clean client"); err != nil {
		t.Fatalf("clean client: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "from a clean client")
	if m := in.mbox(rcpt); strings.Contains(m, "listed client") || strings.Contains(m, "listed sender") {
		t.Errorf("a rejected message was delivered:\n%s", m)
	}
	want := regexp.MustCompile(`NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.2\]: 554 5\.7\.1 Service unavailable; Client host \[127\.0\.0\.2\] blocked using zen\.bl\.tst; listed: see https://bl\.tst/query/127\.0\.0\.2; from=<someone@remote\.tst> to=<` + rcpt + `@example\.tst> proto=ESMTP helo=<client\.remote\.tst>`)
	if !want.MatchString(in.log()) {
		t.Errorf("no Postfix-style reject line in the log:\n%s", in.log())
	}
}

// TestSenderMXAccess: check_sender_mx_access with a cidr table, the
// classic rule against sender domains whose MX is in a private network,
// with the MX records from an in-process DNS server.
func TestSenderMXAccess(t *testing.T) {
	rcpt := localUser(t)
	dns := mxtest.NewServer(t, `
bogus.tst.      MX 10 mx.bogus.tst.
mx.bogus.tst.   A  10.1.2.3
good.tst.       MX 10 mx.good.tst.
mx.good.tst.    A  192.0.2.25
`)
	bogusMX := filepath.Join(readableTempDir(t), "bogus_mx")
	writeFile(t, bogusMX, "10.0.0.0/8 REJECT Domain MX in RFC 1918 private network\n127.0.0.0/8 REJECT Domain MX in loopback network\n")
	in, _ := smtpdInstance(t, "tern_dns_servers = "+dns.Addr(),
		"smtpd_sender_restrictions = check_sender_mx_access cidr:"+bogusMX)
	send := func(from string) (string, error) {
		return swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", from, "--to", rcpt+"@example.tst", "--body", "from "+from)
	}
	out, err := send("someone@bogus.tst")
	if err == nil || !strings.Contains(out, "<** 554 5.7.1 <someone@bogus.tst>: Sender address rejected: Domain MX in RFC 1918 private network") {
		t.Errorf("bogus MX: %v\n%s", err, out)
	}
	if out, err := send("someone@good.tst"); err != nil {
		t.Fatalf("good MX: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "from someone@good.tst")
}

// TestPermitMXBackup: a client outside mynetworks may relay to a domain
// whose DNS lists this host (127.0.0.1) as a backup MX, and not to one
// that only lists others.
func TestPermitMXBackup(t *testing.T) {
	dns := mxtest.NewServer(t, `
backup.tst.       MX 10 mx1.backup.tst.
backup.tst.       MX 20 mx2.backup.tst.
mx1.backup.tst.   A  192.0.2.99
mx2.backup.tst.   A  127.0.0.1
other.tst.        MX 10 mx.other.tst.
mx.other.tst.     A  192.0.2.98
`)
	in, _ := smtpdInstance(t, "tern_dns_servers = "+dns.Addr(),
		"smtpd_relay_restrictions = permit_mynetworks, permit_mx_backup, reject_unauth_destination")
	send := func(to string) (string, error) {
		return swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "someone@remote.tst", "--to", to, "--body", "to "+to)
	}
	if out, err := send("user@backup.tst"); err != nil || !strings.Contains(out, "250 2.0.0 Ok: queued as") {
		t.Errorf("backup MX domain: %v\n%s", err, out)
	}
	if out, err := send("user@other.tst"); err == nil || !strings.Contains(out, "<** 554 5.7.1 <user@other.tst>: Relay access denied") {
		t.Errorf("other domain: %v\n%s", err, out)
	}
}
