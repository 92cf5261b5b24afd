package tests

import (
	"strings"
	"testing"
)

// TestPostmasterNoticeDelivered: with notify_classes = protocol, a
// session in which Python's smtplib sends a command tern does not know
// brings error_notice_recipient a transcript, queued and delivered by the
// real suite as the mail system's own message.
func TestPostmasterNoticeDelivered(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t, "notify_classes = protocol", "error_notice_recipient = "+rcpt)
	script := `import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
s = smtplib.SMTP(host, int(port), timeout=20)
s.ehlo("client.example.tst")
print(s.docmd("XYZZY"))
s.quit()`
	if out, err := pythonSMTP(t, script, in.smtpAddr("127.0.0.1:0")); err != nil || !strings.Contains(out, "502") {
		t.Fatalf("smtplib: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "Transcript of session follows.")
	m := in.mbox(rcpt)
	for _, want := range []string{"Subject: tern SMTP server: errors from localhost[127.0.0.1]", " In:  XYZZY\n Out: 502 5.5.2 Error: command not recognized",
		"Received: by mail.example.tst (tern, from userid", "Auto-Submitted: auto-generated"} {
		if !strings.Contains(m, want) {
			t.Errorf("the notice lacks %q:\n%s", want, m)
		}
	}
}
