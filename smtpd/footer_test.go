package smtpd

import (
	"strings"
	"testing"
)

// TestRejectFooter: smtpd_reject_footer was reported as having no effect.
// It follows each 4xx and 5xx reply on a line of its own, or, after \c,
// on the reply's last line; successes have none.
func TestRejectFooter(t *testing.T) {
	for _, tt := range []struct{ footer, want string }{
		{"For help call 555 ($server_name, $client_address).", "503-5.5.1 Error: need MAIL command\r\n503 5.5.1 For help call 555 (mx.example.tst, 127.0.0.1).\r\n"},
		{`\c (see https://help.example)`, "503 5.5.1 Error: need MAIL command (see https://help.example)\r\n"},
	} {
		ts := startServer(t, "smtpd_reject_footer = "+tt.footer)
		c := ts.dial(t)
		if got := c.cmd("RCPT TO:<a@example.tst>", "503"); got != tt.want {
			t.Errorf("footer %q: reply %q, want %q", tt.footer, got, tt.want)
		}
		if got := c.cmd("NOOP", "250"); strings.Count(got, "\r\n") != 1 {
			t.Errorf("a success got the footer: %q", got)
		}
	}
}
