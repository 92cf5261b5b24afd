package smtpd

import (
	"strings"
	"testing"
)

// TestNoticeTranscript: notify_classes named only the bounce and delay
// copies qmgr sends; protocol, policy, resource and software had no
// effect. smtpd now mails error_notice_recipient a transcript of a session
// that met a problem of a named class, as Postfix's smtpd does, and none
// for a session without one.
func TestNoticeTranscript(t *testing.T) {
	ts := startServer(t, "notify_classes = protocol, policy\nmyorigin = example.tst\n"+
		"smtpd_recipient_restrictions = check_recipient_access inline:{ {spam@example.tst=REJECT no spam} }, permit")
	c := ts.dial(t)
	c.cmd("EHLO client.example.tst", "250")
	c.cmd("XYZZY", "502")
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<spam@example.tst>", "554")
	c.cmd("QUIT", "221")
	waitFor(t, "the notice", func() bool { return len(ts.cleanup.messages()) == 1 })
	n := ts.cleanup.messages()[0]
	if n.req.Get("origin") != "notice" || n.req.Get("sender") != "double-bounce@example.tst" ||
		!strings.Contains(strings.Join(n.req.All("rcpt"), " "), "postmaster@example.tst") {
		t.Errorf("notice envelope: %v", n.req)
	}
	for _, want := range []string{
		"Subject: tern SMTP server: errors from unknown[127.0.0.1]\n",
		"Transcript of session follows.\n",
		" Out: 220 mx.example.tst ESMTP",
		" In:  EHLO client.example.tst\n",
		" In:  XYZZY\n Out: 502 5.5.2 Error: command not recognized\n",
		" Out: 554 5.7.1 <spam@example.tst>: Recipient address rejected: no spam\n",
	} {
		if !strings.Contains(n.body, want) {
			t.Errorf("notice lacks %q:\n%s", want, n.body)
		}
	}
	// A session without a problem of a named class: no notice.
	quiet := startServer(t, "notify_classes = resource, software")
	c = quiet.dial(t)
	c.cmd("XYZZY", "502")
	c.cmd("QUIT", "221")
	waitLog(t, quiet, "disconnect from")
	if m := quiet.cleanup.messages(); len(m) != 0 {
		t.Errorf("a notice for a class not named: %v", m)
	}
}
