package tests

import (
	"strings"
	"testing"
)

// TestStrayCRReplaced: a CR that is not part of a line ending reaches the
// mailbox (and any server tern relays to) as a space, as with Postfix's
// cleanup_replace_stray_cr_lf = yes, so that "<CR>.<CR>" cannot end the
// data early at a server that would take it so (outbound SMTP
// smuggling). With the setting off, the CR is kept.
func TestStrayCRReplaced(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
		want  string
	}{
		{"default", nil, "carrier . MAIL FROM:<evil@remote.tst>"},
		{"off", []string{"cleanup_replace_stray_cr_lf = no"}, "carrier\r.\rMAIL FROM:<evil@remote.tst>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcpt := localUser(t)
			in, _ := smtpdInstance(t, tc.extra...)
			c := dialSMTP(t, in.smtpAddr("127.0.0.1:0"))
			c.cmd("EHLO client.remote.tst", "250")
			c.cmd("MAIL FROM:<a@remote.tst>", "250")
			c.cmd("RCPT TO:<"+rcpt+"@example.tst>", "250")
			c.cmd("DATA", "354")
			c.cmd("Subject: stray\r\n\r\ncarrier\r.\rMAIL FROM:<evil@remote.tst>\r\n.", "250")
			c.cmd("QUIT", "221")
			in.waitMbox(rcpt, "Subject: stray")
			if m := in.mbox(rcpt); !strings.Contains(m, tc.want) {
				t.Errorf("mailbox lacks %q:\n%q", tc.want, m)
			}
		})
	}
}
