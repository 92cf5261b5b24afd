package tests

import (
	"testing"
	"time"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// TestNoteStartTLSOffer: smtp_tls_note_starttls_offer was a known name
// that nothing read. With TLS off for a destination whose server offers
// STARTTLS, the smtp agent logs "Host offered STARTTLS: [name]".
func TestNoteStartTLSOffer(t *testing.T) {
	receiver, port, _ := newTLSReceiver(t, []string{"note.tst"})
	dns := mxtest.NewServer(t, "note.tst. MX 10 mail.example.tst.\nmail.example.tst. A 127.0.0.1\n")
	sender := newInstance(t, options{
		master: testMasterCF + "smtp unix - - n - - smtp\n",
		main: []string{"myhostname = sender.tst", "mydestination = $myhostname", "tern_dns_servers = " + dns.Addr(), "inet_interfaces = " + senderInterface,
			"smtp_tcp_port = " + port, "inet_protocols = ipv4", "smtp_tls_security_level = none",
			"smtp_tls_note_starttls_offer = yes"},
	})
	sender.start()
	rcpt := localUser(t)
	sendAndWait(t, sender, receiver, rcpt, []string{"note.tst"}, "note.tst")
	sender.waitLog("Host offered STARTTLS: [mail.example.tst]", 10*time.Second)
}
