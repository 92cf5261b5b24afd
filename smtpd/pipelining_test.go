package smtpd

import (
	"strings"
	"testing"
)

// TestForbidUnauthPipelining: smtpd_forbid_unauth_pipelining was an
// unknown name, and a client sending commands ahead of time was only
// logged after DATA. Now, as in Postfix 3.9, a command sent before the
// reply to one that ends a group (EHLO, DATA, NOOP, ...), or any command
// sent ahead without PIPELINING, gets 554 5.5.0 and the session ends; a
// legal group (MAIL, RCPT, DATA in one write after EHLO) is served.
func TestForbidUnauthPipelining(t *testing.T) {
	tests := []struct {
		name   string
		before []string // commands answered one by one first
		ahead  string   // then sent in one write
		want   []string // the replies to it, in order
		log    string
	}{
		{"after EHLO", nil, "EHLO c.example\r\nMAIL FROM:<a@b.tst>\r\n",
			[]string{"554 5.5.0 Error: SMTP protocol synchronization"}, `improper command pipelining after EHLO from unknown[127.0.0.1]: MAIL FROM:<a@b.tst>\r\n`},
		{"after DATA", []string{"EHLO c.example", "MAIL FROM:<a@b.tst>", "RCPT TO:<u@example.tst>"}, "DATA\r\nSubject: smuggled\r\n",
			[]string{"554 5.5.0"}, "improper command pipelining after DATA"},
		{"without PIPELINING", []string{"HELO c.example"}, "MAIL FROM:<a@b.tst>\r\nRCPT TO:<u@example.tst>\r\n",
			[]string{"554 5.5.0"}, "improper command pipelining after MAIL"},
		{"a legal group", []string{"EHLO c.example"}, "MAIL FROM:<a@b.tst>\r\nRCPT TO:<u@example.tst>\r\nDATA\r\n",
			[]string{"250 2.1.0", "250 2.1.5", "354"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, "")
			c := ts.dial(t)
			for _, cmd := range tt.before {
				c.cmd(cmd, "250")
			}
			c.send(tt.ahead)
			for _, w := range tt.want {
				c.expect(w)
			}
			if tt.log != "" {
				waitLog(t, ts, tt.log)
				if _, err := c.br.ReadByte(); err == nil {
					t.Error("the session goes on after 554")
				}
			} else if strings.Contains(ts.log.String(), "improper command pipelining") {
				t.Errorf("a legal group was taken for improper pipelining:\n%s", ts.log.String())
			}
		})
	}
	// With the setting off the violation is only logged, for
	// reject_unauth_pipelining.
	ts := startServer(t, "smtpd_forbid_unauth_pipelining = no\nsmtpd_data_restrictions = reject_unauth_pipelining")
	c := ts.dial(t)
	c.send("EHLO c.example\r\nMAIL FROM:<a@b.tst>\r\n")
	c.expect("250")
	c.expect("250 2.1.0")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.cmd("DATA", "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining")
	waitLog(t, ts, "improper command pipelining after EHLO")
}
