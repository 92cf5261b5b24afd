package smtpd

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
)

// deepMainCF runs postscreen's deep protocol tests without the pregreet
// test (an empty banner) so that sessions start at once.
const deepMainCF = `tern_postscreen = yes
postscreen_greet_banner =
mynetworks = 192.0.2.0/24
`

// TestPostscreenDeepTestsPass: postscreen_pipelining_enable,
// postscreen_non_smtp_command_enable and postscreen_bare_newline_enable
// were warned about as not supported. A new client is now not offered
// PIPELINING, gets 450 4.3.2 at RCPT as from Postfix's postscreen, and,
// having failed no test, passes: its next session is an ordinary one.
func TestPostscreenDeepTestsPass(t *testing.T) {
	ts := startServer(t, deepMainCF+"postscreen_pipelining_enable = yes\npostscreen_non_smtp_command_enable = yes\npostscreen_bare_newline_enable = yes\n")
	c := ts.dial(t)
	if ehlo := c.cmd("EHLO client.example", "250"); strings.Contains(ehlo, "PIPELINING") {
		t.Errorf("PIPELINING offered to a client under the pipelining test:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<a@remote.example>", "250")
	c.cmd("RCPT TO:<user@example.tst>", "450 4.3.2 Service currently unavailable")
	c.cmd("QUIT", "221")
	testutilWait(t, ts, "PASS NEW [127.0.0.1]:")
	if strings.Contains(ts.log.String(), "PASS OLD") {
		t.Errorf("PASS OLD for a client under test:\n%s", ts.log.String())
	}

	c = ts.dial(t)
	if ehlo := c.cmd("EHLO client.example", "250"); !strings.Contains(ehlo, "PIPELINING") {
		t.Errorf("PIPELINING not offered after the pass:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<a@remote.example>", "250")
	c.cmd("RCPT TO:<user@example.tst>", "250")
	c.cmd("QUIT", "221")
	testutilWait(t, ts, "PASS OLD [127.0.0.1]:")
}

func TestPostscreenDeepTestsFail(t *testing.T) {
	tests := []struct {
		name, conf string
		run        func(c *testClient)
		log        string
	}{
		{"pipelining, enforced", "postscreen_pipelining_enable = yes\nsmtpd_forbid_unauth_pipelining = no\n",
			func(c *testClient) {
				c.cmd("EHLO client.example", "250")
				c.send("MAIL FROM:<a@remote.example>\r\nRCPT TO:<user@example.tst>\r\n")
				c.expect("250")
				c.expect("550 5.5.1 Protocol error")
			}, `COMMAND PIPELINING from \[127\.0\.0\.1\]:\d+ after MAIL: RCPT TO:<user@example\.tst>`},
		{"non-SMTP command, dropped", "postscreen_non_smtp_command_enable = yes\n",
			func(c *testClient) { c.cmd("GET / HTTP/1.0", "521 5.5.1 Protocol error") },
			`NON-SMTP COMMAND from \[127\.0\.0\.1\]:\d+ after CONNECT: GET / HTTP/1\.0`},
		// postscreen_forbidden_commands was warned about and
		// smtpd_forbidden_commands used instead: a command only the
		// former names fails the test (enforced: 550 at RCPT) and is
		// otherwise just unknown to smtpd, which does not hang up.
		{"postscreen_forbidden_commands, enforced",
			"postscreen_non_smtp_command_enable = yes\npostscreen_non_smtp_command_action = enforce\npostscreen_forbidden_commands = XYZZY\n",
			func(c *testClient) {
				c.cmd("XYZZY plugh", "502 5.5.2 Error: command not recognized")
				c.cmd("EHLO client.example", "250")
				c.cmd("MAIL FROM:<a@remote.example>", "250")
				c.cmd("RCPT TO:<user@example.tst>", "550 5.5.1 Protocol error")
			}, `NON-SMTP COMMAND from \[127\.0\.0\.1\]:\d+ after CONNECT: XYZZY plugh`},
		{"bare newline, enforced", "postscreen_bare_newline_enable = yes\npostscreen_bare_newline_action = enforce\nsmtpd_forbid_bare_newline = no\n",
			func(c *testClient) {
				c.send("EHLO client.example\n")
				c.expect("250")
				c.cmd("MAIL FROM:<a@remote.example>", "250")
				c.cmd("RCPT TO:<user@example.tst>", "550 5.5.1 Protocol error")
			}, `BARE NEWLINE from \[127\.0\.0\.1\]:\d+ after CONNECT`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, deepMainCF+tt.conf)
			tt.run(ts.dial(t))
			testutilWaitRE(t, ts, tt.log)
			// A client that failed is tested again next time.
			c := ts.dial(t)
			c.cmd("EHLO client.example", "250")
			c.cmd("MAIL FROM:<a@remote.example>", "250")
			c.cmd("RCPT TO:<user@example.tst>", "450 4.3.2")
			if strings.Contains(ts.log.String(), "PASS NEW") {
				t.Errorf("a client that failed passed:\n%s", ts.log.String())
			}
		})
	}
}

func testutilWait(t *testing.T, ts *testServer, s string) {
	t.Helper()
	testutilWaitRE(t, ts, regexp.QuoteMeta(s))
}

func testutilWaitRE(t *testing.T, ts *testServer, re string) {
	t.Helper()
	pat := regexp.MustCompile(re)
	testutil.WaitFor(t, 5*time.Second, "log line "+re, func() bool { return pat.MatchString(ts.log.String()) })
}
