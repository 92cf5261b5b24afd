package smtpd

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/milters"
)

func TestEhloAdvertises(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	r := c.cmd("EHLO client.example", "250-mx.example.tst")
	for _, ext := range []string{"PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"} {
		if !strings.Contains(r, "250-"+ext+"\r\n") && !strings.Contains(r, "250 "+ext+"\r\n") {
			t.Errorf("EHLO reply lacks %s:\n%s", ext, r)
		}
	}
	if strings.Contains(r, "STARTTLS") || strings.Contains(r, "AUTH") || strings.Contains(r, "VRFY") {
		t.Errorf("STARTTLS, AUTH or VRFY offered by default:\n%s", r)
	}
	c.cmd("HELO client.example", "250 mx.example.tst")
	c.cmd("QUIT", "221 2.0.0")
}

func TestOneMessage(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("EHLO client.example", "250")
	c.cmd("MAIL FROM:<sender@remote.tst>", "250 2.1.0")
	c.cmd("RCPT TO:<user@example.tst>", "250 2.1.5")
	c.cmd("DATA", "354 ")
	c.cmd("Subject: hi\r\n\r\n..dotted\r\nbody\r\n.", "250 2.0.0 Ok: queued as QID1")
	c.cmd("QUIT", "221")
	msgs := ts.cleanup.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages queued", len(msgs))
	}
	m := msgs[0]
	if m.body != "Subject: hi\n\n.dotted\nbody\n" {
		t.Errorf("body %q", m.body)
	}
	env := envelope.FromRecord(m.req)
	if env.Sender != "sender@remote.tst" || env.Helo != "client.example" || env.Protocol != "ESMTP" || env.ClientAddr != "127.0.0.1" {
		t.Errorf("envelope %+v", env)
	}
	if got := rcptOf(m); len(got) != 1 || got[0] != "user@example.tst" {
		t.Errorf("recipients %v", got)
	}
	// qmgr writes the client= line, under smtpd's name, once it has
	// queued the message: the request carries the line and the name.
	if got := [2]string{m.req.Get("log_client"), m.req.Get("log_program")}; got != [2]string{"client=unknown[127.0.0.1]", "tern/smtpd"} {
		t.Errorf("client= line and program %q", got)
	}
	waitLog(t, ts, "disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")
}

func waitLog(t *testing.T, ts *testServer, want string) {
	t.Helper()
	if !poll(func() bool { return strings.Contains(ts.log.String(), want) }) {
		t.Fatalf("log lacks %q:\n%s", want, ts.log.String())
	}
}

// waitFor fails the test unless cond holds within 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll checks cond every 10 ms for up to 5 seconds.
func poll(cond func() bool) bool {
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func TestCommandReplies(t *testing.T) {
	tests := []struct {
		name  string
		extra string // main.cf
		steps [][2]string
	}{
		{"sequence", "", [][2]string{
			{"RCPT TO:<a@example.tst>", "503 5.5.1 Error: need MAIL command"},
			{"DATA", "503 5.5.1 Error: need MAIL command"},
			{"MAIL FROM:<a@b.tst>", "250 2.1.0"},
			{"MAIL FROM:<a@b.tst>", "503 5.5.1 Error: nested MAIL command"},
			{"DATA", "554 5.5.1 Error: no valid recipients"},
			{"RSET", "250 2.0.0"},
			{"NOOP", "250 2.0.0"},
			{"XYZZY", "502 5.5.2 Error: command not recognized"},
		}},
		{"syntax", "", [][2]string{
			{"HELO", "501 Syntax: HELO hostname"},
			{"MAIL TO:<a@b>", "501 5.5.4 Syntax: MAIL FROM:<address>"},
			{"MAIL FROM:<a@b", "501 5.5.4"},
			{"MAIL FROM:<a\x01b@c>", "501 5.1.7 Bad sender address syntax"},
			{"MAIL FROM:<a@b> FOO=bar", "555 5.5.4 Unsupported option: FOO"},
			{"MAIL FROM:<a@b> SIZE=x", "501 5.5.4 Bad message size syntax"},
			{"MAIL FROM:<a@b> SIZE=99999999999", "552 5.3.4 Message size exceeds fixed limit"},
			{"MAIL FROM:<a@b> RET=ALL", "501 5.5.4"},
			{"MAIL FROM:<@relay.tst:a@b.tst>", "250 2.1.0"},
			{"RCPT TO:<>", "501 5.1.3 Bad recipient address syntax"},
			{"RCPT TO:<u@example.tst> NOTIFY=NEVER,SUCCESS", "501 5.5.4"},
			{"RCPT TO:<u@example.tst> ORCPT=bogus", "501 5.5.4"},
			{"RCPT TO:<u@example.tst> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;u+40example.tst", "250 2.1.5"},
			{strings.Repeat("NOOP ", 600), "500 5.5.2 Error: line too long"},
		}},
		{"unicode", "", [][2]string{
			{"EHLO c", "250"},
			{"MAIL FROM:<jörg@example.tst>", "553 5.6.7"},
			{"MAIL FROM:<jörg@example.tst> SMTPUTF8", "250 2.1.0"},
			{"RCPT TO:<müller@example.tst>", "250 2.1.5"},
		}},
		// strict_smtputf8 was an unknown name: tern always refused a
		// non-ASCII address without SMTPUTF8. With no (Postfix's
		// default) it is accepted, as it is with smtputf8_enable = no.
		{"strict_smtputf8 = no", "strict_smtputf8 = no", [][2]string{
			{"EHLO c", "250"},
			{"MAIL FROM:<jörg@example.tst>", "250 2.1.0"},
			{"RCPT TO:<müller@example.tst>", "250 2.1.5"},
		}},
		{"smtputf8_enable = no", "smtputf8_enable = no", [][2]string{
			{"EHLO c", "250"},
			{"MAIL FROM:<jörg@example.tst>", "250 2.1.0"},
		}},
		// strict_rfc821_envelopes was accepted with "no effect".
		{"bare addresses accepted by default", "", [][2]string{
			{"MAIL FROM: a@b.tst", "250 2.1.0"},
			{"RCPT TO:u@example.tst", "250 2.1.5"},
		}},
		{"strict_rfc821_envelopes", "strict_rfc821_envelopes = yes", [][2]string{
			{"MAIL FROM: a@b.tst", "501 5.1.7 Bad sender address syntax"},
			{"MAIL FROM: <a@b.tst>", "250 2.1.0"},
			{"RCPT TO:u@example.tst", "501 5.1.3 Bad recipient address syntax"},
			{"RCPT TO:<u@example.tst>", "250 2.1.5"},
		}},
		{"recipient limit", "smtpd_recipient_limit = 2", [][2]string{
			{"MAIL FROM:<>", "250"},
			{"RCPT TO:<a@example.tst>", "250"},
			{"RCPT TO:<b@example.tst>", "250"},
			{"RCPT TO:<c@example.tst>", "452 4.5.3 Error: too many recipients"},
		}},
		{"vrfy off by default", "", [][2]string{
			{"VRFY root", "502 5.5.1 VRFY command is disabled"},
		}},
		{"vrfy on", "disable_vrfy_command = no", [][2]string{
			{"EHLO c", "250"},
			{"VRFY root", "252 2.0.0 root"},
			{"VRFY", "501 5.5.4"},
		}},
		{"helo required", "smtpd_helo_required = yes", [][2]string{
			{"MAIL FROM:<a@b.tst>", "503 5.5.1 Error: send HELO/EHLO first"},
		}},
		{"relay denied outside mynetworks", "mynetworks = 192.0.2.0/24", [][2]string{
			{"EHLO c", "250"},
			{"MAIL FROM:<a@b.tst>", "250"},
			{"RCPT TO:<victim@elsewhere.tst>", "454 4.7.1 <victim@elsewhere.tst>: Relay access denied"},
			{"RCPT TO:<user@example.tst>", "250 2.1.5"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.extra)
			c := ts.dial(t)
			for _, st := range tt.steps {
				c.cmd(st[0], st[1])
			}
		})
	}
}

func TestPipelinedTransactions(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("EHLO c", "250")
	c.send("MAIL FROM:<a@b.tst>\r\nRCPT TO:<x@example.tst>\r\nRCPT TO:<y@example.tst>\r\nDATA\r\n")
	for _, want := range []string{"250 2.1.0", "250 2.1.5", "250 2.1.5", "354"} {
		c.expect(want)
	}
	c.send("one\r\n.\r\nMAIL FROM:<c@d.tst>\r\nRCPT TO:<z@example.tst>\r\nBDAT 4 LAST\r\ntwo\nQUIT\r\n")
	for _, want := range []string{"250 2.0.0 Ok: queued as QID1", "250 2.1.0", "250 2.1.5", "250 2.0.0 Ok: queued as QID2", "221"} {
		c.expect(want)
	}
	msgs := ts.cleanup.messages()
	if len(msgs) != 2 || msgs[0].body != "one\n" || msgs[1].body != "two\n" {
		t.Fatalf("queued %+v", msgs)
	}
	ts.cleanup.mu.Lock()
	conns := ts.cleanup.conns
	ts.cleanup.mu.Unlock()
	if conns != 1 {
		t.Errorf("%d connections to cleanup for two messages, want 1 (reused)", conns)
	}
	if got := rcptOf(msgs[0]); len(got) != 2 {
		t.Errorf("first message recipients %v", got)
	}
}

func TestDSNParametersReachQueue(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("EHLO c", "250")
	c.cmd("MAIL FROM:<a@b.tst> RET=HDRS ENVID=QQ+2B1", "250")
	c.cmd("RCPT TO:<u@example.tst> NOTIFY=success,failure ORCPT=rfc822;U+40example.tst", "250")
	c.cmd("DATA", "354")
	c.cmd("x\r\n.", "250")
	m := ts.cleanup.messages()[0]
	env := envelope.FromRecord(m.req)
	if env.Ret != "HDRS" || env.EnvID != "QQ+1" {
		t.Errorf("ret %q envid %q", env.Ret, env.EnvID)
	}
	rc := envelope.ParseRcptRecord(m.req.Get("rcpt"))
	if rc.Notify != "SUCCESS,FAILURE" || rc.ORcpt != "rfc822;U@example.tst" {
		t.Errorf("recipient %+v", rc)
	}
}

func TestBDATChunks(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("EHLO c", "250")
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.send("BDAT 13\r\nSubject: x\r\n\r")
	c.expect("250 2.0.0 Ok: 13 bytes")
	c.send("BDAT 7 LAST\r\n\nbody\r\n")
	c.expect("250 2.0.0 Ok: queued as QID1")
	c.cmd("DATA", "503 5.5.1 Error: need MAIL command")
	if m := ts.cleanup.messages(); len(m) != 1 || m[0].body != "Subject: x\r\n\r\nbody\r\n" {
		t.Fatalf("queued %+v", m)
	}
}

func TestSizeLimitDuringData(t *testing.T) {
	ts := startServer(t, "message_size_limit = 100")
	c := ts.dial(t)
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.cmd("DATA", "354")
	c.cmd(strings.Repeat("0123456789\r\n", 20)+".", "552 5.3.4 Error: message file too big")
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.cmd("BDAT 150 LAST\r\n"+strings.Repeat("x", 148), "552 5.3.4")
	c.cmd("NOOP", "250")
	if m := ts.cleanup.messages(); len(m) != 0 {
		t.Fatalf("queued %d messages over the limit", len(m))
	}
}

func TestHangUpMidDataQueuesNothing(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: half\r\n\r\nsome of the body\r\n")
	c.c.Close()
	waitLog(t, ts, "lost connection after DATA")
	deadline := time.Now().Add(5 * time.Second)
	for {
		ts.cleanup.mu.Lock()
		broken := ts.cleanup.broken
		ts.cleanup.mu.Unlock()
		if broken == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cleanup did not see the submission abandoned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := ts.cleanup.messages(); len(m) != 0 {
		t.Fatalf("queued %d messages", len(m))
	}
}

// TestClosedKeptCleanupConnectionIsReplaced: the envelope now leaves
// with the content, so a kept connection that qmgr closed since (a
// restart) must be noticed before it is used, not after the client sent
// the message: the next message goes over a new connection and is queued.
func TestClosedKeptCleanupConnectionIsReplaced(t *testing.T) {
	ts := startServer(t, "")
	ts.cleanup.mu.Lock()
	ts.cleanup.hangUp = true
	ts.cleanup.mu.Unlock()
	for i := 1; i <= 3; i++ {
		c := ts.dial(t)
		c.cmd("MAIL FROM:<a@b.tst>", "250")
		c.cmd("RCPT TO:<u@example.tst>", "250")
		c.cmd("DATA", "354")
		c.send(fmt.Sprintf("Subject: %d\r\n\r\nbody\r\n.\r\n", i))
		c.expect(fmt.Sprintf("250 2.0.0 Ok: queued as QID%d", i))
		c.cmd("QUIT", "221")
		// The next message finds the connection closed, not closing.
		waitFor(t, "the fake qmgr to close the kept connection", func() bool {
			ts.cleanup.mu.Lock()
			defer ts.cleanup.mu.Unlock()
			return ts.cleanup.hungUp == i
		})
	}
	ts.cleanup.mu.Lock()
	conns := ts.cleanup.conns
	ts.cleanup.mu.Unlock()
	if n := len(ts.cleanup.messages()); n != 3 || conns != 3 {
		t.Errorf("%d messages queued over %d connections, want 3 over 3", n, conns)
	}
}

// TestSmugglingSequencesDoNotEndData sends each SMTP smuggling sequence
// followed by a second transaction inside one message: exactly one message
// must be queued, holding the would-be second one as text.
func TestSmugglingSequencesDoNotEndData(t *testing.T) {
	for _, seq := range []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r"} {
		t.Run(strings.NewReplacer("\r", "CR", "\n", "LF").Replace(seq), func(t *testing.T) {
			ts := startServer(t, "")
			c := ts.dial(t)
			c.cmd("EHLO c", "250")
			c.cmd("MAIL FROM:<a@b.tst>", "250")
			c.cmd("RCPT TO:<u@example.tst>", "250")
			c.cmd("DATA", "354")
			c.send("Subject: one\r\n\r\nfirst" + seq + "MAIL FROM:<evil@b.tst>\r\nRCPT TO:<victim@example.tst>\r\nDATA\r\nSubject: smuggled\r\n\r\n.\r\n")
			c.expect("250 2.0.0 Ok: queued as QID1")
			c.cmd("NOOP", "250")
			msgs := ts.cleanup.messages()
			if len(msgs) != 1 || !strings.Contains(msgs[0].body, "Subject: smuggled") {
				t.Fatalf("queued %+v", msgs)
			}
		})
	}
}

func TestBareLFReject(t *testing.T) {
	ts := startServer(t, "smtpd_forbid_bare_newline = reject\nsmtpd_forbid_bare_newline_exclusions =")
	c := ts.dial(t)
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.cmd("DATA", "354")
	c.cmd("a\nb\r\n.", "550 5.5.2 Error: bare <LF> received")
	c.send("NOOP\n")
	c.expect("550 5.5.2")
	if m := ts.cleanup.messages(); len(m) != 0 {
		t.Fatalf("queued %d messages", len(m))
	}
}

func TestForbiddenCommandCloses(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("GET / HTTP/1.0", "221 2.7.0")
	if _, err := c.br.ReadByte(); err == nil {
		t.Fatal("connection still open after a forbidden command")
	}
}

func TestHardErrorLimit(t *testing.T) {
	ts := startServer(t, "smtpd_hard_error_limit = 3")
	c := ts.dial(t)
	c.cmd("X1", "502")
	c.cmd("X2", "502")
	c.send("X3\r\n")
	c.expect("502")
	c.expect("421 4.7.0 mx.example.tst Error: too many errors")
	waitLog(t, ts, "too many errors after UNKNOWN from unknown[127.0.0.1]")
}

// TestJunkCommandLimit: past smtpd_junk_command_limit, each NOOP, VRFY,
// ETRN or RSET counts as an error, so a client looping on them meets the
// hard error limit; queued mail starts the count again.
func TestJunkCommandLimit(t *testing.T) {
	ts := startServer(t, "smtpd_junk_command_limit = 2\nsmtpd_hard_error_limit = 3")
	c := ts.dial(t)
	c.cmd("EHLO client.example.tst", "250")
	c.cmd("NOOP", "250")
	c.cmd("RSET", "250")
	// Two errors so far would not close; queued mail resets the junk count.
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<user@example.tst>", "250")
	c.cmd("DATA", "354")
	c.cmd("Subject: x\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued")
	c.cmd("NOOP", "250")
	c.cmd("NOOP", "250")
	c.cmd("NOOP", "250") // error 1
	c.cmd("RSET", "250") // error 2
	c.send("NOOP\r\n")   // error 3
	c.expect("250")
	c.expect("421 4.7.0 mx.example.tst Error: too many errors")
}

// TestRecipientOvershootNotErrors: every recipient past
// smtpd_recipient_limit counted as an error, so with the default hard
// error limit (20) a list server sending 21 recipients too many was cut
// off before DATA and its message lost for all. As in Postfix, only the
// recipients past smtpd_recipient_overshoot_limit more count.
func TestRecipientOvershootNotErrors(t *testing.T) {
	ts := startServer(t, "smtpd_recipient_limit = 2\nsmtpd_recipient_overshoot_limit = 30\nsmtpd_hard_error_limit = 5")
	c := ts.dial(t)
	c.cmd("EHLO client.example.tst", "250")
	c.cmd("MAIL FROM:<list@b.tst>", "250")
	c.cmd("RCPT TO:<a@example.tst>", "250")
	c.cmd("RCPT TO:<b@example.tst>", "250")
	for i := range 30 {
		c.cmd(fmt.Sprintf("RCPT TO:<x%d@example.tst>", i), "452 4.5.3 Error: too many recipients")
	}
	c.cmd("DATA", "354")
	c.cmd("Subject: x\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued")
	// Past the overshoot limit they count again: the hard limit applies.
	c.cmd("MAIL FROM:<list@b.tst>", "250")
	for i := range 32 {
		c.cmd(fmt.Sprintf("RCPT TO:<y%d@example.tst>", i), "")
	}
	for range 4 {
		c.cmd("RCPT TO:<z@example.tst>", "452")
	}
	c.send("RCPT TO:<z@example.tst>\r\n")
	c.expect("452")
	c.expect("421 4.7.0 mx.example.tst Error: too many errors")
}

// TestNoopCommands: smtpd_noop_commands are answered 250 whatever their
// arguments, and count as junk.
func TestNoopCommands(t *testing.T) {
	ts := startServer(t, "smtpd_noop_commands = xyzzy, HELP\nsmtpd_junk_command_limit = 0\nsmtpd_hard_error_limit = 2")
	c := ts.dial(t)
	c.cmd("XYZZY plugh", "250 2.0.0 Ok")
	c.send("help me\r\n")
	c.expect("250 2.0.0 Ok")
	c.expect("421 4.7.0")
	ts2 := startServer(t, "")
	c2 := ts2.dial(t)
	c2.cmd("XYZZY plugh", "502")
}

func TestCleanupRefusal(t *testing.T) {
	ts := startServer(t, "")
	ts.cleanup.refuse = ipcRecord("status", "error", "code", "75", "dsn", "4.3.0", "text", "queue file write error")
	c := ts.dial(t)
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<u@example.tst>", "250")
	c.cmd("DATA", "354")
	c.cmd("x\r\n.", "451 4.3.0")
}

func TestClientLimits(t *testing.T) {
	t.Run("connection count", func(t *testing.T) {
		ts := startServer(t, "smtpd_client_connection_count_limit = 1\nsmtpd_client_event_limit_exceptions =")
		first := ts.dial(t)
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		second := &testClient{t: t, c: c, br: bufio.NewReader(c)}
		second.expect("421 4.7.0 mx.example.tst Error: too many connections from 127.0.0.1")
		first.cmd("NOOP", "250")
	})
	t.Run("message rate", func(t *testing.T) {
		ts := startServer(t, "smtpd_client_message_rate_limit = 2\nsmtpd_client_event_limit_exceptions =")
		c := ts.dial(t)
		for i := 0; i < 2; i++ {
			c.cmd("MAIL FROM:<a@b.tst>", "250")
			c.cmd("RSET", "250")
		}
		c.cmd("MAIL FROM:<a@b.tst>", "452 4.3.2 Error: too much mail from 127.0.0.1")
	})
	// The three limits below were reported as having no effect.
	t.Run("recipient rate", func(t *testing.T) {
		ts := startServer(t, "smtpd_client_recipient_rate_limit = 2\nsmtpd_client_event_limit_exceptions =")
		c := ts.dial(t)
		c.cmd("MAIL FROM:<a@b.tst>", "250")
		c.cmd("RCPT TO:<u1@example.tst>", "250")
		c.cmd("RCPT TO:<u2@example.tst>", "250")
		c.cmd("RCPT TO:<u3@example.tst>", "450 4.7.1 Error: too many recipients from 127.0.0.1")
	})
	t.Run("auth rate", func(t *testing.T) {
		ts := startServerWith(t, "smtpd_tls_auth_only = no\nsmtpd_client_auth_rate_limit = 2\nsmtpd_client_event_limit_exceptions =",
			func(s *Server) { s.sasl = fakeSASL{} })
		c := ts.dial(t)
		c.cmd("EHLO client.example", "250")
		c.cmd("AUTH PLAIN AGFsaWNlAHB3", "535 5.7.8")
		c.cmd("AUTH PLAIN AGFsaWNlAHB3", "535 5.7.8")
		c.cmd("AUTH PLAIN AGFsaWNlAHB3", "450 4.7.1 Error: too many AUTH commands from 127.0.0.1")
	})
	t.Run("exempt network", func(t *testing.T) {
		ts := startServer(t, "smtpd_client_message_rate_limit = 1\nsmtpd_client_event_limit_exceptions = 127.0.0.0/8")
		c := ts.dial(t)
		for i := 0; i < 3; i++ {
			c.cmd("MAIL FROM:<a@b.tst>", "250")
			c.cmd("RSET", "250")
		}
	})
}

func TestIdleClientTimesOut(t *testing.T) {
	ts := startServer(t, "smtpd_timeout = 1s")
	c := ts.dial(t)
	c.expect("421 4.4.2 mx.example.tst Error: timeout exceeded")
	waitLog(t, ts, "timeout after CONNECT from unknown[127.0.0.1]")
}

func TestUnlistedRecipientRejected(t *testing.T) {
	ts := startServer(t, "local_recipient_maps = inline:{known=x}")
	c := ts.dial(t)
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<known@example.tst>", "250")
	c.cmd("RCPT TO:<nosuchuser@example.tst>", "550 5.1.1 <nosuchuser@example.tst>: Recipient address rejected: User unknown in local recipient table")
}

// TestMaxprocCapsSessions: with master.cf maxproc 1 a second client is
// not greeted until the first leaves.
func TestMaxprocCapsSessions(t *testing.T) {
	ts := startServerWith(t, "", func(s *Server) { s.maxConns = 1 })
	first := ts.dial(t)
	second := dialWaiting(t, ts.addr)
	first.cmd("QUIT", "221")
	second.expect("220 ")
}

// dialWaiting connects to addr and fails unless the client waits for a
// session slot: no greeting within 300 ms. The client then reads with a
// 5-second deadline.
func dialWaiting(t *testing.T, addr string) *testClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	br := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := br.Peek(1); err == nil {
		t.Fatal("client greeted while the other sessions hold every slot")
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return &testClient{t: t, c: c, br: br}
}

func TestCheckRejectsBadSettings(t *testing.T) {
	tests := []struct{ conf, want string }{
		{"smtpd_relay_restrictions = permit_mynetworks, bogus_word, reject", "bogus_word"},
		{"smtpd_sasl_auth_enable = yes", "smtpd_sasl_type = cyrus is not supported"},
		{"smtpd_tls_security_level = encrypt", "needs smtpd_tls_cert_file"},
		{"smtpd_forbid_bare_newline = sometimes", "smtpd_forbid_bare_newline"},
		{"smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit", ""},
		{"mynetworks = 10.0.0.0/33", "mynetworks"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte("alias_maps =\n"+tt.conf+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		err = Check(cfg, dir)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Check(%q) = %v, want an error about %q", tt.conf, err, tt.want)
		}
	}
}

// TestStopTellsIdleClients: when smtpd stops, a client waiting between
// commands gets 421 at once rather than holding the stop up.
func TestStopTellsIdleClients(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	c.cmd("EHLO c", "250")
	start := time.Now()
	ts.stop()
	c.expect("421 4.3.2 mx.example.tst Service shutting down")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the idle client was told after %v", d)
	}
}

// TestDebugPeerList: debug_peer_list was a known name that nothing read.
// A listed client's session is now logged command by command and reply
// by reply, as Postfix's verbose smtpd logs it, without the password of
// an AUTH command; other clients' sessions are not.
func TestDebugPeerList(t *testing.T) {
	ts := startServer(t, "debug_peer_list = 192.0.2.0/24, 127.0.0.1")
	c := ts.dial(t)
	c.cmd("EHLO client.example.tst", "250")
	c.cmd("AUTH PLAIN AGJvYgBzZWNyZXQ=", "5")
	c.cmd("QUIT", "221")
	waitLog(t, ts, "disconnect from")
	log := ts.log.String()
	for _, want := range []string{"< unknown[127.0.0.1]: EHLO client.example.tst", "> unknown[127.0.0.1]: 250-mx.example.tst",
		"> unknown[127.0.0.1]: 220 mx.example.tst ESMTP", "< unknown[127.0.0.1]: AUTH PLAIN ********", "> unknown[127.0.0.1]: 221 2.0.0 Bye"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the log:\n%s", want, log)
		}
	}
	if strings.Contains(log, "AGJvYgBzZWNyZXQ=") {
		t.Errorf("the AUTH response was logged:\n%s", log)
	}
	quiet := startServer(t, "debug_peer_list = 192.0.2.0/24")
	c = quiet.dial(t)
	c.cmd("QUIT", "221")
	waitLog(t, quiet, "disconnect from")
	if strings.Contains(quiet.log.String(), "< unknown") {
		t.Errorf("an unlisted client's session was logged:\n%s", quiet.log.String())
	}
}

// TestSessionPanicEndsOnlyTheSession: a panic in a session (here a broken
// milter list) killed the whole smtpd process, every other client's
// session with it, and the master then throttled the service. It now ends
// that session only, logged, and smtpd goes on serving.
func TestSessionPanicEndsOnlyTheSession(t *testing.T) {
	ts := startServerWith(t, "", func(s *Server) { s.milters = []*milters.Conf{nil} })
	for range 3 {
		c, err := net.Dial("tcp", ts.addr)
		if err != nil {
			t.Fatalf("smtpd no longer accepts connections: %v", err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Error("a session that panicked went on")
		}
		c.Close()
	}
	waitLog(t, ts, "error: panic in the session with unknown[127.0.0.1]: runtime error: invalid memory address")
}

// TestDiscardEhloKeywordAddressMaps: an unknown name before. A client the
// table names is offered the EHLO keywords less the table's list, which
// takes the place of smtpd_discard_ehlo_keywords for it.
func TestDiscardEhloKeywordAddressMaps(t *testing.T) {
	ts := startServer(t, "smtpd_discard_ehlo_keywords = dsn\n"+
		"smtpd_discard_ehlo_keyword_address_maps = inline:{ {127.0.0.1 = chunking, pipelining} }")
	c := ts.dial(t)
	ehlo := c.cmd("EHLO client.example.tst", "250")
	for kw, want := range map[string]bool{"CHUNKING": false, "PIPELINING": false, "DSN": true, "8BITMIME": true} {
		if got := strings.Contains(ehlo, kw+"\r\n"); got != want {
			t.Errorf("%s offered %v, want %v:\n%s", kw, got, want, ehlo)
		}
	}
	ts = startServer(t, "smtpd_discard_ehlo_keywords = dsn\nsmtpd_discard_ehlo_keyword_address_maps = inline:{ 192.0.2.1=chunking }")
	c = ts.dial(t)
	if ehlo := c.cmd("EHLO client.example.tst", "250"); strings.Contains(ehlo, "DSN") || !strings.Contains(ehlo, "CHUNKING") {
		t.Errorf("a client the table does not name:\n%s", ehlo)
	}
}

// TestForbiddenNonSMTPCommands: Postfix 3.7's default
// smtpd_forbidden_commands ends with regexp:{{/^[^A-Z]/ Bogus}}, and an
// unknown command that looks like a header field ends the session too
// (a client that skipped DATA); tern had neither and answered 502 until
// the error limit.
func TestForbiddenNonSMTPCommands(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"\x16\x03\x01\x02\x01", "221 2.7.0 Error: I can break rules, too. Goodbye."},
		{"12345 hello", "221 2.7.0"},
		{"Subject: hello", "221 2.7.0"},
		{"xyzzy", "502 5.5.2"},
	} {
		ts := startServer(t, "")
		c := ts.dial(t)
		c.cmd(tt.line, tt.want)
		if strings.HasPrefix(tt.want, "221") {
			waitLog(t, ts, "warning: non-SMTP command from unknown[127.0.0.1]")
			if _, err := c.br.ReadByte(); err == nil {
				t.Errorf("%q: the session goes on", tt.line)
			}
		}
	}
}
