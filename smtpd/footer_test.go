package smtpd

import (
	"os"
	"path/filepath"
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

// TestRejectFooterMaps: smtpd_reject_footer_maps was an unknown name. A
// reply the table matches (a regexp on the whole reply, as in Postfix's
// examples) gets the table's footer; others keep smtpd_reject_footer.
func TestRejectFooterMaps(t *testing.T) {
	table := filepath.Join(t.TempDir(), "footers")
	if err := os.WriteFile(table, []byte("/^503 .*need MAIL/ \\c (MAIL comes first: see $$server_name/help)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "smtpd_reject_footer = General help: postmaster\nsmtpd_reject_footer_maps = regexp:"+table)
	c := ts.dial(t)
	if got := c.cmd("RCPT TO:<a@example.tst>", "503"); got != "503 5.5.1 Error: need MAIL command (MAIL comes first: see mx.example.tst/help)\r\n" {
		t.Errorf("the table's footer: %q", got)
	}
	if got := c.cmd("XYZZY", "502"); !strings.HasSuffix(got, "502 5.5.2 General help: postmaster\r\n") {
		t.Errorf("smtpd_reject_footer: %q", got)
	}
}
