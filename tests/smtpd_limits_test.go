package tests

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestOpenRelayTricksRejected tries classic open-relay recipients from a
// client outside mynetworks, one session, RSET between them. Every one
// must be refused at RCPT and nothing may reach the queue.
func TestOpenRelayTricksRejected(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	tricks := []string{
		"victim@elsewhere.tst",
		"victim%elsewhere.tst@example.tst",
		"elsewhere.tst!victim@example.tst",
		"@example.tst:victim@elsewhere.tst",
		"@mail.example.tst,@example.tst:victim@elsewhere.tst",
		`"victim@elsewhere.tst"@example.tst`,
		`"victim%elsewhere.tst"@example.tst`,
		"victim@elsewhere.tst@example.tst",
		"victim@[192.0.2.99]",
		"victim@example.tst.elsewhere.tst",
		"victim@elsewhere.tst.",
		"VICTIM@ELSEWHERE.TST",
		"victim%elsewhere.tst",
		"elsewhere.tst!victim",
		"victim@sub.example.tst",
	}
	c := dialSMTP(t, in.smtpAddr("127.0.0.1:0"))
	c.cmd("EHLO relay-tester.remote.tst", "250")
	for _, trick := range tricks {
		// A local sender, as spammers forge one.
		c.cmd("MAIL FROM:<"+rcpt+"@example.tst>", "250")
		r := c.cmd("RCPT TO:<"+trick+">", "")
		if !strings.HasPrefix(r, "4") && !strings.HasPrefix(r, "5") {
			t.Errorf("RCPT TO:<%s> accepted: %q", trick, r)
		}
		c.cmd("RSET", "250")
	}
	// The same session may still mail a local user.
	c.cmd("MAIL FROM:<someone@remote.tst>", "250")
	c.cmd("RCPT TO:<"+rcpt+"@example.tst>", "250")
	c.cmd("QUIT", "221")
	if q := in.run("mailq"); !strings.Contains(q, "Mail queue is empty") {
		t.Errorf("something was queued:\n%s", q)
	}
}

// TestSlowClientDoesNotDelayAnother: one client sends a byte a second;
// another completes a whole transaction meanwhile, quickly.
func TestSlowClientDoesNotDelayAnother(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	addr := in.smtpAddr("127.0.0.1:0")
	slow := dialSMTP(t, addr)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, b := range []byte("EHLO very-slow.remote.tst\r\n") {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			if _, err := slow.c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(1500 * time.Millisecond) // the slow client is mid-command
	start := time.Now()
	fast := dialSMTP(t, addr)
	fast.cmd("EHLO fast.remote.tst", "250")
	fast.cmd("MAIL FROM:<a@remote.tst>", "250")
	fast.cmd("RCPT TO:<"+rcpt+"@example.tst>", "250")
	fast.cmd("DATA", "354")
	fast.cmd("Subject: fast\r\n\r\nnot delayed\r\n.", "250 2.0.0 Ok: queued as ")
	fast.cmd("QUIT", "221")
	took := time.Since(start)
	t.Logf("fast transaction took %v while the slow client trickled", took)
	if took > 3*time.Second {
		t.Errorf("a transaction took %v next to a slow client", took)
	}
	in.waitMbox(rcpt, "not delayed")
}

// TestTwoThousandConcurrentConnections holds 2,000 sessions open at once,
// each past EHLO, and reports the smtpd process's resident memory.
func TestTwoThousandConcurrentConnections(t *testing.T) {
	const conns = 2000
	master := testMasterCF + "127.0.0.1:0 inet n - n - 2100 smtpd\n"
	in := newInstance(t, options{master: master, main: []string{"smtpd_error_sleep_time = 0"}})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	var pids []int
	waitFor(t, 10*time.Second, "the smtpd process", func() bool {
		pids = in.daemonPIDs("smtpd")
		return len(pids) == 1
	})
	// One session first, so that "before" is a running server's size.
	if c, err := ehlo(addr, -1); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	before := rssKB(t, pids[0])
	open := make([]net.Conn, 0, conns)
	var mu sync.Mutex
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	sem := make(chan struct{}, 200) // connect 200 at a time
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := ehlo(addr, i)
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			open = append(open, c)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("connection failed: %v", err)
	}
	during := rssKB(t, pids[0])
	t.Logf("%d concurrent sessions past EHLO in %v; smtpd RSS %d KiB before, %d KiB with them open (%.1f KiB per session)",
		len(open), time.Since(start).Round(time.Millisecond), before, during, float64(during-before)/conns)
	if len(open) != conns {
		t.Fatalf("%d of %d sessions open", len(open), conns)
	}
	// Every session must still answer.
	for i, c := range open {
		if i%100 != 0 {
			continue
		}
		if _, err := fmt.Fprintf(c, "NOOP\r\n"); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "250") {
			t.Fatalf("session %d: NOOP: %q %v", i, line, err)
		}
	}
	if during > 256*1024 {
		t.Errorf("smtpd holds %d KiB for %d sessions", during, conns)
	}
}

// ehlo opens a session and gets past EHLO.
func ehlo(addr string, i int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	br := bufio.NewReader(c)
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "220 ") {
		c.Close()
		return nil, fmt.Errorf("session %d greeting %q: %v", i, line, err)
	}
	fmt.Fprintf(c, "EHLO client%d.remote.tst\r\n", i)
	for {
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "250") {
			c.Close()
			return nil, fmt.Errorf("session %d EHLO %q: %v", i, line, err)
		}
		if line[3] == ' ' {
			break
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func rssKB(t *testing.T, pid int) int {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}

// smtpConn is a raw SMTP client for the integration tests.
type smtpConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialSMTP(t *testing.T, addr string) *smtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { c.Close() })
	s := &smtpConn{t: t, c: c, br: bufio.NewReader(c)}
	s.expect("220 ")
	return s
}

func (s *smtpConn) expect(prefix string) string {
	s.t.Helper()
	var all strings.Builder
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("read: %v (after %q)", err, all.String())
		}
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			break
		}
	}
	if !strings.HasPrefix(all.String(), prefix) {
		s.t.Fatalf("reply %q, want %q", all.String(), prefix)
	}
	return all.String()
}

func (s *smtpConn) cmd(line, prefix string) string {
	s.t.Helper()
	if _, err := fmt.Fprintf(s.c, "%s\r\n", line); err != nil {
		s.t.Fatal(err)
	}
	return s.expect(prefix)
}

// TestSmugglingPipeliningAndBDAT drives the running suite over a raw
// connection: each SMTP smuggling sequence stays inside its message, a
// pipelined group of transactions is answered in order, and a BDAT
// message arrives whole.
func TestSmugglingPipeliningAndBDAT(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	c := dialSMTP(t, in.smtpAddr("127.0.0.1:0"))
	c.cmd("EHLO smuggler.remote.tst", "250")
	for i, seq := range []string{"\n.\n", "\n.\r\n", "\r.\r\n", "\r\n.\r"} {
		c.cmd("MAIL FROM:<a@remote.tst>", "250")
		c.cmd("RCPT TO:<"+rcpt+"@example.tst>", "250")
		c.cmd("DATA", "354")
		body := fmt.Sprintf("Subject: carrier %d\r\n\r\ncarrier-%d", i, i) + seq +
			"MAIL FROM:<evil@remote.tst>\r\nRCPT TO:<" + rcpt + "@example.tst>\r\nDATA\r\nSubject: smuggled\r\n\r\nsmuggled-body\r\n.\r\n"
		if _, err := c.c.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
		c.expect("250 2.0.0 Ok: queued as ")
	}
	// A pipelined group: two transactions in one write.
	group := "MAIL FROM:<p1@remote.tst>\r\nRCPT TO:<" + rcpt + "@example.tst>\r\nDATA\r\n"
	if _, err := c.c.Write([]byte(group)); err != nil {
		t.Fatal(err)
	}
	c.expect("250 2.1.0")
	c.expect("250 2.1.5")
	c.expect("354")
	chunk := "Subject: chunked\r\n\r\nbdat-body\r\n"
	if _, err := c.c.Write([]byte("Subject: piped\r\n\r\npipelined-body\r\n.\r\nMAIL FROM:<p2@remote.tst>\r\nRCPT TO:<" + rcpt + "@example.tst>\r\n" +
		fmt.Sprintf("BDAT %d LAST\r\n", len(chunk)) + chunk)); err != nil {
		t.Fatal(err)
	}
	c.expect("250 2.0.0 Ok: queued as ")
	c.expect("250 2.1.0")
	c.expect("250 2.1.5")
	c.expect("250 2.0.0 Ok: queued as ")
	c.cmd("QUIT", "221")
	in.waitMbox(rcpt, "bdat-body")
	in.waitMbox(rcpt, "pipelined-body")
	waitFor(t, 30*time.Second, "all six messages", func() bool {
		return strings.Count(in.mbox(rcpt), "\nFrom ")+1 >= 6
	})
	in.waitQueueEmpty() // a smuggled seventh would be in by then
	mbox := in.mbox(rcpt)
	if n := strings.Count(mbox, "Subject: smuggled"); n != 4 {
		t.Errorf("%d smuggled texts in the mailbox, want 4, each inside its carrier", n)
	}
	if n := strings.Count(mbox, "From evil@remote.tst") + strings.Count(mbox, "Return-Path: <evil@remote.tst>"); n != 0 {
		t.Errorf("a smuggled message was delivered on its own (%d)", n)
	}
	if n := strings.Count(mbox, "\nFrom ") + 1; n != 6 {
		t.Errorf("%d messages in the mailbox, want 6", n)
	}
}

// TestNewTLSSessionRateLimit: smtpd_client_new_tls_session_rate_limit
// was reported as having no effect; past the limit STARTTLS gets 421 and
// the session ends, as in Postfix.
func TestNewTLSSessionRateLimit(t *testing.T) {
	in, ca := smtpdInstance(t, "smtpd_client_new_tls_session_rate_limit = 1", "smtpd_client_event_limit_exceptions =")
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--tls", "--tls-ca-path", ca.caFile, "--quit-after", "TLS")
	if err != nil {
		t.Fatalf("first TLS session: %v\n%s", err, out)
	}
	out, _ = swaks(t, "--server", addr, "--tls", "--quit-after", "TLS")
	if !strings.Contains(out, "421 4.7.0 mail.example.tst Error: too many new TLS sessions from 127.0.0.1") {
		t.Errorf("second TLS session not refused:\n%s", out)
	}
	in.waitLog("New TLS session rate limit exceeded: 2 from localhost[127.0.0.1]", deliveryTimeout)
}

// TestProcessLimitStressesSmtpd: master.cf's maxproc reaches smtpd, and a
// service at its limit logs Postfix's warning and gives the sessions that
// start then the stress values: one error (smtpd_hard_error_limit) ends
// a session, as with Postfix's "-o stress=yes".
func TestProcessLimitStressesSmtpd(t *testing.T) {
	in := newInstance(t, options{master: testMasterCF + "127.0.0.1:0 inet n - n - 1 smtpd\n",
		main: []string{"smtpd_error_sleep_time = 0"}})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	c := dialSMTP(t, addr)
	c.cmd("XYZZY", "502")
	c.cmd("NOOP", "421 4.7.0 mail.example.tst Error: too many errors")
	in.waitLog(`warning: service "127.0.0.1:0" (`+addr+`) has reached its process limit "1"`, 5*time.Second)
	in.waitLog("too many errors after UNKNOWN", 5*time.Second)
}
