package tests

import (
	"strings"
	"testing"
)

// TestVERPThroughSendmailAndSMTP: VERP was not supported (sendmail -XV
// was ignored with a warning, XVERP refused). A list's message sent with
// sendmail -XV reaches the remote MX with the recipient encoded in the
// sender, as Postfix sends it.
func TestVERPThroughSendmailAndSMTP(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: list mail\n\nverp body\n", "-XV", "-f", "list@example.tst", rcpt+"@remote.tst")
	if code != 0 || out != "" {
		t.Fatalf("sendmail -XV: exit %d: %s", code, out)
	}
	p.receiver.waitMbox(rcpt, "verp body")
	want := "Return-Path: <list+" + rcpt + "=remote.tst@example.tst>"
	if box := p.receiver.mbox(rcpt); !strings.Contains(box, want) {
		t.Errorf("the receiver's mailbox lacks %q:\n%s", want, box)
	}
}

const pyXVERP = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
s = smtplib.SMTP(host, int(port), timeout=20)
s.ehlo("lists.example")
print("xverp offered:", s.has_extn("xverp"))
s.sendmail("list@example.tst", [sys.argv[2]], "Subject: x\r\n\r\nxverp body\r\n", mail_options=["XVERP=-="])
s.quit()
`

// TestXVERPOverSMTP: an SMTP client in mynetworks (Postfix's default
// authorized_verp_clients) asks for VERP with its own delimiters, and
// the local delivery's Return-Path carries the VERP sender.
func TestXVERPOverSMTP(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n"})
	in.start()
	out, err := pythonSMTP(t, pyXVERP, in.smtpAddr("127.0.0.1:0"), rcpt+"@example.tst")
	if err != nil || !strings.Contains(out, "xverp offered: True") {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "xverp body")
	want := "Return-Path: <list-" + rcpt + "=example.tst@example.tst>"
	if box := in.mbox(rcpt); !strings.Contains(box, want) {
		t.Errorf("the mailbox lacks %q:\n%s", want, box)
	}
}
