package sasl

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeDovecot is an in-test auth server on a temporary unix socket. Each
// accepted connection is handed to handle in its own goroutine.
type fakeDovecot struct {
	path string
	ln   net.Listener
	wg   sync.WaitGroup
}

// fakeConn is the server end of one client connection.
type fakeConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

// startFake listens on a fresh socket; it is stopped by t.Cleanup.
func startFake(t *testing.T, handle func(fc *fakeConn)) *fakeDovecot {
	t.Helper()
	dir, err := os.MkdirTemp("", "sasl") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDovecot{path: filepath.Join(dir, "auth")}
	f.ln, err = net.Listen("unix", f.path)
	if err != nil {
		t.Fatal(err)
	}
	conns := make(chan net.Conn, 16)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := f.ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				handle(&fakeConn{t: t, c: c, r: bufio.NewReader(c)})
			}()
		}
	}()
	t.Cleanup(func() {
		f.ln.Close()
		for {
			select {
			case c := <-conns:
				c.Close()
				continue
			default:
			}
			break
		}
		f.wg.Wait()
		os.RemoveAll(dir)
	})
	return f
}

// send writes lines, each with an LF, in one write: a client that hangs
// up after the first line must not make a later write fail
// (TestDovecotHandshakeProblems/wrong_version was flaky that way).
func (fc *fakeConn) send(lines ...string) {
	if _, err := fc.c.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		fc.t.Errorf("fake dovecot: write: %v", err)
	}
}

// flood writes line n times and stops quietly at the first failed write:
// the client is expected to hang up part way, and the test's cleanup may
// close this end first (TestDovecotFailures/endless_garbage failed in CI
// with "use of closed network connection" when each write was checked).
func (fc *fakeConn) flood(line string, n int) {
	for range n {
		if _, err := fc.c.Write([]byte(line + "\n")); err != nil {
			return
		}
	}
}

// recv reads one line without its LF; "" when the client went away.
func (fc *fakeConn) recv() string {
	l, err := fc.r.ReadString('\n')
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(l, "\n")
}

// greet checks the client's handshake and sends the server's with mechs
// ("PLAIN\tplaintext" style MECH arguments).
func (fc *fakeConn) greet(mechs ...string) bool {
	if v := fc.recv(); v != "VERSION\t1\t1" {
		fc.t.Errorf("fake dovecot: first line %q, want VERSION", v)
		return false
	}
	if c := fc.recv(); !strings.HasPrefix(c, "CPID\t") || c == "CPID\t" {
		fc.t.Errorf("fake dovecot: second line %q, want CPID", c)
		return false
	}
	fc.send("VERSION\t1\t2", "SPID\t4242", "CUID\t7", "COOKIE\t0123456789abcdef0123456789abcdef")
	for _, m := range mechs {
		fc.send("MECH\t" + m)
	}
	fc.send("DONE")
	return true
}

// authID reads an AUTH line and returns it split and its request id.
func (fc *fakeConn) auth() ([]string, string) {
	l := fc.recv()
	f := strings.Split(l, "\t")
	if len(f) < 4 || f[0] != "AUTH" {
		fc.t.Errorf("fake dovecot: got %q, want AUTH", l)
		return nil, ""
	}
	return f, f[1]
}

var stdMechs = []string{"PLAIN\tplaintext", "LOGIN\tplaintext", "APOP\tprivate", "CRAM-MD5\tdictionary\tactive"}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDovecotMechanisms(t *testing.T) {
	f := startFake(t, func(fc *fakeConn) {
		fc.greet(append([]string{"bad mech name!", ""}, stdMechs...)...)
		fc.recv() // wait for the client to close
	})
	s := NewDovecotServer(f.path, 5*time.Second)
	defer s.Close()
	got, err := s.Mechanisms(context.Background(), false)
	want := []Mechanism{{"PLAIN", PropPlaintext}, {"LOGIN", PropPlaintext}, {"CRAM-MD5", PropDictionary | PropActive}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Mechanisms = %v, %v; want %v", got, err, want)
	}
}

func TestDovecotPlainWithInitialResponse(t *testing.T) {
	lines := make(chan []string, 1)
	f := startFake(t, func(fc *fakeConn) {
		if !fc.greet(stdMechs...) {
			return
		}
		f, id := fc.auth()
		lines <- f
		fc.send("OK\t" + id + "\tuser=alice@example.org")
	})
	s := NewDovecotServer(f.path, 5*time.Second)
	defer s.Close()
	info := Info{Service: "smtp", LocalAddr: "192.0.2.1:587", RemoteAddr: "[2001:db8::5]:40000", Secured: true}
	ex, err := s.Start(context.Background(), "plain", []byte("\x00alice@example.org\x00pw"), info)
	if err != nil {
		t.Fatal(err)
	}
	ch, done, user, err := ex.Next(context.Background(), nil)
	if err != nil || !done || user != "alice@example.org" || ch != nil {
		t.Fatalf("Next = %q %v %q %v; want done as alice@example.org", ch, done, user, err)
	}
	got := <-lines
	want := []string{"AUTH", got[1], "PLAIN", "service=smtp", "nologin", "lip=192.0.2.1", "lport=587",
		"rip=2001:db8::5", "rport=40000", "secured", "resp=" + b64("\x00alice@example.org\x00pw")}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("AUTH line\n got %q\nwant %q", got, want)
	}
	if _, _, _, err := ex.Next(context.Background(), nil); err == nil {
		t.Error("Next after OK did not fail")
	}
}

func TestDovecotEmptyInitialAndNoAddresses(t *testing.T) {
	lines := make(chan string, 1)
	f := startFake(t, func(fc *fakeConn) {
		if !fc.greet(stdMechs...) {
			return
		}
		l := fc.recv()
		lines <- l
		fc.send("FAIL\t" + strings.Split(l, "\t")[1] + "\treason=Invalid PLAIN request")
	})
	s := NewDovecotServer(f.path, 5*time.Second)
	defer s.Close()
	ex, err := s.Start(context.Background(), "PLAIN", []byte{}, Info{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = ex.Next(context.Background(), []byte{})
	if !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("err = %v, want ErrAuthFailed", err)
	}
	if r := ReplyFor(err).String(); r != "535 5.7.8 Error: authentication failed: Invalid PLAIN request" {
		t.Errorf("reply %q", r)
	}
	got := <-lines
	if !strings.HasSuffix(got, "\tservice=smtp\tnologin\tresp=") || strings.Contains(got, "lip=") {
		t.Errorf("AUTH line %q: want service=smtp, nologin, empty resp= and no addresses", got)
	}
}

// TestDovecotLoginRoundTrip runs LOGIN through CONT in both directions,
// with garbage and other requests' lines in between.
func TestDovecotLoginRoundTrip(t *testing.T) {
	f := startFake(t, func(fc *fakeConn) {
		if !fc.greet(stdMechs...) {
			return
		}
		f, id := fc.auth()
		if len(f) > 0 && strings.Contains(strings.Join(f, "\t"), "resp=") {
			t.Errorf("AUTH without initial response has resp=: %q", f)
		}
		fc.send("", "garbage line", "lower\tcase", "CONT\t999\t"+b64("not yours"), "NOTICE\t"+id,
			"CONT\t"+id+"\t"+b64("Username:"))
		if l := fc.recv(); l != "CONT\t"+id+"\t"+b64("alice") {
			t.Errorf("got %q, want CONT with the user name", l)
		}
		fc.send("CONT\t" + id + "\t" + b64("Password:"))
		if l := fc.recv(); l != "CONT\t"+id+"\t"+b64("pass\tword") {
			t.Errorf("got %q, want CONT with the password", l)
		}
		fc.send("OK\t" + id + "\tuser=ali\x01tce\tnopenalty")
	})
	s := NewDovecotServer(f.path, 5*time.Second)
	defer s.Close()
	ex, err := s.Start(context.Background(), "LOGIN", nil, Info{})
	if err != nil {
		t.Fatal(err)
	}
	challenges, user, err := drive(t, ex, nil, [][]byte{[]byte("alice"), []byte("pass\tword")})
	if err != nil || user != "ali\tce" {
		t.Fatalf("user %q err %v; want the unescaped name", user, err)
	}
	if strings.Join(challenges, "|") != "Username:|Password:" {
		t.Errorf("challenges %q", challenges)
	}
}

func TestDovecotFailures(t *testing.T) {
	tests := []struct {
		name   string
		answer func(fc *fakeConn, id string)
		want   error
		reply  string
	}{
		{"FAIL", func(fc *fakeConn, id string) { fc.send("FAIL\t" + id + "\tuser=alice") },
			ErrAuthFailed, "535 5.7.8 Error: authentication failed: authentication failure"},
		{"FAIL authz", func(fc *fakeConn, id string) { fc.send("FAIL\t" + id + "\tauthz") },
			ErrAuthFailed, "535 5.7.8 Error: authentication failed: authentication failure"},
		{"FAIL temp", func(fc *fakeConn, id string) { fc.send("FAIL\t" + id + "\ttemp\treason=SQL down") },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: SQL down"},
		{"FAIL temp no reason", func(fc *fakeConn, id string) { fc.send("FAIL\t" + id + "\ttemp") },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: internal error"},
		{"close mid-exchange", func(fc *fakeConn, id string) { fc.c.Close() },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: connection lost to authentication server"},
		{"partial line then close", func(fc *fakeConn, id string) { fc.c.Write([]byte("OK\t" + id)); fc.c.Close() },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: connection lost to authentication server"},
		{"OK without user", func(fc *fakeConn, id string) { fc.send("OK\t" + id) },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: authentication server protocol error"},
		{"bad base64 in CONT", func(fc *fakeConn, id string) { fc.send("CONT\t" + id + "\t!!!") },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: authentication server protocol error"},
		{"line too long", func(fc *fakeConn, id string) { fc.send("CONT\t" + id + "\t" + strings.Repeat("A", dovecotMaxLine)) },
			ErrTemporary, "454 4.7.0 Temporary authentication failure: authentication server protocol error"},
		{"endless garbage", func(fc *fakeConn, id string) {
			fc.flood("CONT\t"+id+"0\tAAAA", dovecotMaxLines+1)
		}, ErrTemporary, "454 4.7.0 Temporary authentication failure: authentication server protocol error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, func(fc *fakeConn) {
				if !fc.greet(stdMechs...) {
					return
				}
				if _, id := fc.auth(); id != "" {
					tc.answer(fc, id)
				}
				fc.recv()
			})
			s := NewDovecotServer(f.path, 5*time.Second)
			defer s.Close()
			ex, err := s.Start(context.Background(), "PLAIN", []byte("\x00alice\x00pw"), Info{})
			if err != nil {
				t.Fatal(err)
			}
			_, _, _, err = ex.Next(context.Background(), nil)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if r := ReplyFor(err).String(); r != tc.reply {
				t.Errorf("reply %q, want %q", r, tc.reply)
			}
		})
	}
}

func TestDovecotHandshakeProblems(t *testing.T) {
	tests := []struct {
		name   string
		server func(fc *fakeConn)
		mech   string
		want   error
	}{
		{"unsupported mechanism", func(fc *fakeConn) { fc.greet(stdMechs...); fc.recv() }, "DIGEST-MD5", ErrUnsupportedMech},
		{"private mechanism", func(fc *fakeConn) { fc.greet(stdMechs...); fc.recv() }, "APOP", ErrUnsupportedMech},
		{"wrong version", func(fc *fakeConn) {
			fc.recv()
			fc.recv()
			fc.send("VERSION\t2\t0", "MECH\tPLAIN", "DONE")
			fc.recv()
		}, "PLAIN", ErrTemporary},
		{"DONE before VERSION", func(fc *fakeConn) { fc.recv(); fc.recv(); fc.send("MECH\tPLAIN", "DONE"); fc.recv() }, "PLAIN", ErrTemporary},
		{"close during handshake", func(fc *fakeConn) { fc.recv(); fc.send("VERSION\t1\t1") }, "PLAIN", ErrTemporary},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.server)
			s := NewDovecotServer(f.path, 5*time.Second)
			defer s.Close()
			if _, err := s.Start(context.Background(), tc.mech, nil, Info{}); !errors.Is(err, tc.want) {
				t.Errorf("Start = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDovecotUnreachable(t *testing.T) {
	dir := t.TempDir()
	s := NewDovecotServer(filepath.Join(dir, "no-such-socket"), time.Second)
	defer s.Close()
	if _, err := s.Mechanisms(context.Background(), false); !errors.Is(err, ErrTemporary) {
		t.Errorf("Mechanisms = %v, want ErrTemporary", err)
	}
	_, err := s.Start(context.Background(), "PLAIN", nil, Info{})
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("Start = %v, want ErrTemporary", err)
	}
	if r := ReplyFor(err).String(); r != "454 4.7.0 Temporary authentication failure: cannot connect to authentication server" {
		t.Errorf("reply %q", r)
	}
}

func TestDovecotBadMechName(t *testing.T) {
	s := NewDovecotServer("/nonexistent/auth", time.Second)
	defer s.Close()
	for _, mech := range []string{"", "PLAIN\tresp=AAAA", "PLAIN\nAUTH", strings.Repeat("A", 21)} {
		if _, err := s.Start(context.Background(), mech, nil, Info{}); !errors.Is(err, ErrUnsupportedMech) {
			t.Errorf("Start(%q) = %v, want ErrUnsupportedMech", mech, err)
		}
	}
}

// TestDovecotTimeout has a server that never answers AUTH.
func TestDovecotTimeout(t *testing.T) {
	release := make(chan struct{})
	f := startFake(t, func(fc *fakeConn) {
		fc.greet(stdMechs...)
		fc.auth()
		<-release
	})
	defer close(release)
	// The timeout covers the dial and handshake in Start too.
	s := NewDovecotServer(f.path, time.Second)
	defer s.Close()
	ex, err := s.Start(context.Background(), "PLAIN", []byte("\x00a\x00b"), Info{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, _, _, err = ex.Next(context.Background(), nil)
	if !errors.Is(err, ErrTemporary) || time.Since(start) > 3*time.Second {
		t.Errorf("Next = %v after %v; want ErrTemporary after about 1s", err, time.Since(start))
	}
	if r := ReplyFor(err).String(); !strings.Contains(r, "timeout") {
		t.Errorf("reply %q, want a timeout", r)
	}
}

// TestDovecotContextCancel cancels the caller's context while waiting.
func TestDovecotContextCancel(t *testing.T) {
	release := make(chan struct{})
	f := startFake(t, func(fc *fakeConn) {
		fc.greet(stdMechs...)
		fc.auth()
		<-release
	})
	defer close(release)
	s := NewDovecotServer(f.path, 30*time.Second)
	defer s.Close()
	ex, err := s.Start(context.Background(), "PLAIN", []byte("\x00a\x00b"), Info{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, _, _, err = ex.Next(ctx, nil)
	if !errors.Is(err, ErrTemporary) || !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second {
		t.Errorf("Next = %v after %v; want ErrTemporary wrapping context.Canceled", err, time.Since(start))
	}
}

// TestDovecotAbortAndClose checks that Abort and Server.Close release
// connections: the fake server sees the client go away.
func TestDovecotAbortAndClose(t *testing.T) {
	gone := make(chan string, 4)
	f := startFake(t, func(fc *fakeConn) {
		fc.greet(stdMechs...)
		_, id := fc.auth()
		fc.send("CONT\t" + id + "\t")
		fc.recv() // returns when the client closes
		gone <- id
	})
	s := NewDovecotServer(f.path, 5*time.Second)
	ex1, err := s.Start(context.Background(), "PLAIN", nil, Info{})
	if err != nil {
		t.Fatal(err)
	}
	ex2, err := s.Start(context.Background(), "PLAIN", nil, Info{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range []Exchange{ex1, ex2} {
		if ch, done, _, err := ex.Next(context.Background(), nil); err != nil || done || len(ch) != 0 || ch == nil {
			t.Fatalf("Next = %q %v %v; want an empty challenge", ch, done, err)
		}
	}
	Abort(ex1)
	waitGone(t, gone)
	s.Close()
	waitGone(t, gone)
	if _, err := s.Start(context.Background(), "PLAIN", nil, Info{}); !errors.Is(err, ErrTemporary) {
		t.Errorf("Start after Close = %v, want ErrTemporary", err)
	}
	if _, _, _, err := ex2.Next(context.Background(), []byte("\x00a\x00b")); !errors.Is(err, ErrTemporary) {
		t.Errorf("Next on a closed server's exchange = %v, want ErrTemporary", err)
	}
}

func waitGone(t *testing.T, gone <-chan string) {
	t.Helper()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the fake server did not see the connection close")
	}
}

func TestSplitAddr(t *testing.T) {
	tests := []struct{ in, ip, port string }{
		{"192.0.2.1:25", "192.0.2.1", "25"},
		{"[::1]:587", "::1", "587"},
		{"192.0.2.1", "192.0.2.1", ""},
		{"::1", "::1", ""},
		{"", "", ""},
		{"mail.example:25", "", ""},
		{"192.0.2.1:x", "192.0.2.1", ""},
		{"unknown", "", ""},
	}
	for _, tc := range tests {
		if ip, port := splitAddr(tc.in); ip != tc.ip || port != tc.port {
			t.Errorf("splitAddr(%q) = %q, %q; want %q, %q", tc.in, ip, port, tc.ip, tc.port)
		}
	}
}

func TestParseDovecotLine(t *testing.T) {
	tests := []struct {
		in   string
		cmd  string
		args []string
		ok   bool
	}{
		{"DONE", "DONE", nil, true},
		{"MECH\tPLAIN\tplaintext", "MECH", []string{"PLAIN", "plaintext"}, true},
		{"OK\t1\tuser=a\x01tb\x01nc\x010d\x011e\x01rf\x01xg\x01", "OK", []string{"1", "user=a\tb\nc\x00d\x01e\rfxg\x01"}, true},
		{"CONT\t7\t\r", "CONT", []string{"7", ""}, true},
		{"FAIL\t1\t\ttemp", "FAIL", []string{"1", "", "temp"}, true},
		{"", "", nil, false},
		{"\tOK", "", nil, false},
		{"ok\t1", "", nil, false},
		{"OK 1", "", nil, false},
	}
	for _, tc := range tests {
		l, err := parseDovecotLine(tc.in)
		if !tc.ok {
			if !errors.Is(err, errGarbage) {
				t.Errorf("parseDovecotLine(%q) = %v, %v; want errGarbage", tc.in, l, err)
			}
			continue
		}
		if err != nil || l.cmd != tc.cmd || strings.Join(l.args, "|") != strings.Join(tc.args, "|") || len(l.args) != len(tc.args) {
			t.Errorf("parseDovecotLine(%q) = %q %q, %v; want %q %q", tc.in, l.cmd, l.args, err, tc.cmd, tc.args)
		}
	}
}

func TestTabEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "a\tb", "\x00\x01\t\r\n", "x\x01ty"} {
		e := tabEscape(s)
		if strings.ContainsAny(e, "\t\r\n\x00") {
			t.Errorf("tabEscape(%q) = %q still has control characters", s, e)
		}
		if u := tabUnescape(e); u != s {
			t.Errorf("tabUnescape(tabEscape(%q)) = %q", s, u)
		}
	}
}
