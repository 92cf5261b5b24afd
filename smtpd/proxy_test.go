package smtpd

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseProxyFilter(t *testing.T) {
	tests := []struct {
		in, network, addr string
		bad               bool
	}{
		{"", "", "", false},
		{"127.0.0.1:10025", "tcp", "127.0.0.1:10025", false},
		{"inet:[::1]:10025", "tcp", "[::1]:10025", false},
		{"10025", "tcp", "localhost:10025", false},
		{":10025", "tcp", "localhost:10025", false},
		{"unix:private/filter", "unix", "/q/private/filter", false},
		{"unix:/run/filter.sock", "unix", "/run/filter.sock", false},
		{"unix:", "", "", true},
		{"127.0.0.1:nosuchport", "", "", true},
	}
	for _, tt := range tests {
		got, err := parseProxyFilter(tt.in, "/q")
		switch {
		case tt.bad:
			if err == nil {
				t.Errorf("%q: accepted", tt.in)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		case tt.network == "" && got != nil, tt.network != "" && (got == nil || got.network != tt.network || got.addr != tt.addr):
			t.Errorf("%q = %+v, want %s %s", tt.in, got, tt.network, tt.addr)
		}
	}
}

func TestProxyReply(t *testing.T) {
	tests := []struct {
		code int
		msg  string
		want string
	}{
		{250, "2.0.0 Ok: queued as X", "250 2.0.0 Ok: queued as X\r\n"},
		{550, "5.7.1 spam\n5.7.1 see the log", "550-5.7.1 spam\r\n550 5.7.1 see the log\r\n"},
		{451, "try later", "451 try later\r\n"},
		{554, "2.0.0 wrong class", "554 2.0.0 wrong class\r\n"},
	}
	for _, tt := range tests {
		if got := toReply(tt.code, tt.msg).Lines(true); got != tt.want {
			t.Errorf("%d %q: %q, want %q", tt.code, tt.msg, got, tt.want)
		}
	}
}

// fakeFilter is a before-queue filter that records what it is sent.
type fakeFilter struct {
	l        net.Listener
	mu       sync.Mutex
	commands []string
	content  string
	gotDot   bool
	done     chan struct{} // closed when a session has ended
}

func startFakeFilter(t *testing.T) *fakeFilter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeFilter{l: l, done: make(chan struct{})}
	go f.serve()
	t.Cleanup(func() { l.Close() })
	return f
}

func (f *fakeFilter) serve() {
	c, err := f.l.Accept()
	if err != nil {
		return
	}
	defer close(f.done)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 filter.example ESMTP")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f.mu.Lock()
		f.commands = append(f.commands, line)
		f.mu.Unlock()
		switch verb, _, _ := strings.Cut(strings.ToUpper(line), " "); verb {
		case "EHLO":
			say("250-filter.example\r\n250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT\r\n250 PIPELINING")
		case "DATA":
			say("354 go ahead")
			var b strings.Builder
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					f.mu.Lock()
					f.content = b.String()
					f.mu.Unlock()
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			f.mu.Lock()
			f.content, f.gotDot = b.String(), true
			f.mu.Unlock()
			say("250 2.0.0 Ok: queued as F1")
		case "RCPT":
			if strings.Contains(line, "refused@") {
				say("550 5.1.1 no such user here")
			} else {
				say("250 2.1.5 Ok")
			}
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 2.0.0 Ok")
		}
	}
}

func (f *fakeFilter) wait(t *testing.T) {
	t.Helper()
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the filter session did not end")
	}
}

// TestProxyFilterConversation: what the filter sees of a transaction:
// XFORWARD with the client, MAIL and the accepted RCPT as the client sent
// them, the content dot-stuffed with CRLF line ends under smtpd's
// Received header; its refusal of a recipient and its final reply reach
// the client, and nothing goes to the queue.
func TestProxyFilterConversation(t *testing.T) {
	f := startFakeFilter(t)
	ts := startServer(t, "smtpd_proxy_filter = "+f.l.Addr().String()+"\nsmtpd_proxy_ehlo = before.example.tst")
	c := ts.dial(t)
	if ehlo := c.cmd("EHLO client.example.tst", "250"); strings.Contains(ehlo, "CHUNKING") {
		t.Errorf("CHUNKING offered with a before-queue filter:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<a@b.tst> BODY=8BITMIME", "250 2.1.0")
	c.cmd("RCPT TO:<user@example.tst>", "250 2.1.5")
	c.cmd("RCPT TO:<refused@example.tst>", "550 5.1.1 no such user here")
	c.cmd("DATA", "354")
	c.cmd("Subject: x\r\n\r\n..leading dot\r\nlast\r\n.", "250 2.0.0 Ok: queued as F1")
	c.cmd("QUIT", "221")
	f.wait(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	cmds := strings.Join(f.commands, "\n")
	for _, want := range []string{"EHLO before.example.tst", "XFORWARD NAME=unknown ADDR=127.0.0.1 PORT=", "MAIL FROM:<a@b.tst> BODY=8BITMIME", "RCPT TO:<user@example.tst>", "DATA", "QUIT"} {
		if !strings.Contains(cmds, want) {
			t.Errorf("the filter got no %q:\n%s", want, cmds)
		}
	}
	if !strings.HasPrefix(f.content, "Received: from client.example.tst (unknown [127.0.0.1])\r\n\tby mx.example.tst (tern) with ESMTP\r\n\tfor <user@example.tst>; ") ||
		!strings.HasSuffix(f.content, "\r\nSubject: x\r\n\r\n..leading dot\r\nlast\r\n") {
		t.Errorf("content %q", f.content)
	}
	if n := len(ts.cleanup.messages()); n != 0 {
		t.Errorf("%d messages queued by the before-filter smtpd", n)
	}
}

// TestProxyFilterClientLostMidData: a client that hangs up in the middle
// of the content leaves the filter without the final dot, so the filter
// drops the message; nothing waits on the filter.
func TestProxyFilterClientLostMidData(t *testing.T) {
	f := startFakeFilter(t)
	ts := startServer(t, "smtpd_proxy_filter = "+f.l.Addr().String())
	c := ts.dial(t)
	c.cmd("EHLO client.example.tst", "250")
	c.cmd("MAIL FROM:<a@b.tst>", "250")
	c.cmd("RCPT TO:<user@example.tst>", "250")
	c.cmd("DATA", "354")
	c.send("Subject: cut short\r\n\r\nhalf a mess")
	c.c.Close()
	f.wait(t)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gotDot || !strings.Contains(strings.Join(f.commands, "\n"), "DATA") {
		t.Errorf("filter: commands %q, final dot %v", f.commands, f.gotDot)
	}
}

// TestProxyFilterDown: a filter that cannot be reached gives 451 4.3.0
// at MAIL, the reason in the log only.
func TestProxyFilterDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ts := startServer(t, "smtpd_proxy_filter = "+addr)
	c := ts.dial(t)
	c.cmd("EHLO client.example.tst", "250")
	c.cmd("MAIL FROM:<a@b.tst>", "451 4.3.0 Error: queue file write error")
	waitLog(t, ts, "warning: connect to proxy filter "+addr)
}

// FuzzProxyReply: any reply the filter sends turns into a reply for the
// client without a panic, with the filter's code and no bare line breaks.
func FuzzProxyReply(f *testing.F) {
	f.Add(250, "2.0.0 Ok: queued as X")
	f.Add(550, "5.7.1 a\n5.7.1 b")
	f.Add(421, "")
	f.Fuzz(func(t *testing.T, code int, msg string) {
		if code < 200 || code > 599 {
			return
		}
		out := toReply(code, msg).Lines(true)
		for _, l := range strings.SplitAfter(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(l) < 4 || l[:3] != strings.TrimSpace(out[:3]) || strings.ContainsAny(strings.TrimSuffix(l, "\r\n"), "\r\n") {
				t.Fatalf("%d %q gave %q", code, msg, out)
			}
		}
	})
}

// TestProxyFilterSpeedAdjust: smtpd_proxy_options = speed_adjust was
// warned about as not supported. smtpd now answers MAIL and RCPT itself
// and connects to the filter only once the message is in, replaying the
// transaction; a recipient the filter refuses then refuses the whole
// message with the filter's reply.
func TestProxyFilterSpeedAdjust(t *testing.T) {
	for _, tt := range []struct {
		rcpt, want string
	}{
		{"user@example.tst", "250 2.0.0 Ok: queued as F1"},
		{"refused@example.tst", "550 5.1.1 no such user here"},
	} {
		f := startFakeFilter(t)
		ts := startServer(t, "smtpd_proxy_filter = "+f.l.Addr().String()+"\nsmtpd_proxy_options = speed_adjust")
		c := ts.dial(t)
		c.cmd("EHLO client.example.tst", "250")
		c.cmd("MAIL FROM:<a@b.tst>", "250 2.1.0")
		c.cmd("RCPT TO:<"+tt.rcpt+">", "250 2.1.5")
		c.cmd("DATA", "354")
		f.mu.Lock()
		early := len(f.commands)
		f.mu.Unlock()
		if early != 0 {
			t.Errorf("%s: the filter was talked to before the message was in: %d commands", tt.rcpt, early)
		}
		c.cmd("Subject: x\r\n\r\n..leading dot\r\nlast\r\n.", tt.want)
		c.cmd("QUIT", "221")
		f.wait(t)
		f.mu.Lock()
		cmds := strings.Join(f.commands, "\n")
		content, gotDot := f.content, f.gotDot
		f.mu.Unlock()
		if !strings.Contains(cmds, "MAIL FROM:<a@b.tst>\nRCPT TO:<"+tt.rcpt+">") {
			t.Errorf("%s: the filter got:\n%s", tt.rcpt, cmds)
		}
		if tt.want[0] == '2' && (!gotDot || !strings.HasSuffix(content, "\r\nSubject: x\r\n\r\n..leading dot\r\nlast\r\n")) {
			t.Errorf("%s: content %q, final dot %v", tt.rcpt, content, gotDot)
		}
		if tt.want[0] != '2' && strings.Contains(cmds, "DATA") {
			t.Errorf("%s: DATA sent after a refused recipient:\n%s", tt.rcpt, cmds)
		}
	}
}
