package smtpd

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
)

// queued is one message the fake cleanup service accepted.
type queued struct {
	req  ipc.Record
	body string
}

// fakeCleanup stands in for qmgr's cleanup service on a unix socket.
type fakeCleanup struct {
	mu   sync.Mutex
	msgs []queued
	// broken counts submissions abandoned: a body that ended without the
	// end frame, or a connection closed before any submission on it was
	// complete (smtpd sends the envelope with the content, so a client
	// that hangs up during a short DATA leaves qmgr nothing but the close).
	broken int
	conns  int // connections accepted
	refuse ipc.Record
	// hangUp closes each connection after its first reply, as a qmgr
	// that stops does with the connections smtpd keeps.
	hangUp bool
	hungUp int // connections closed after their first reply
}

// serve answers submissions on one connection until it closes, as qmgr
// does.
func (f *fakeCleanup) serve(ctx context.Context, c *ipc.Conn) {
	f.mu.Lock()
	f.conns++
	f.mu.Unlock()
	done := 0
	for {
		f.mu.Lock()
		hangUp := f.hangUp
		f.mu.Unlock()
		if hangUp && done > 0 {
			c.Close()
			f.mu.Lock()
			f.hungUp++
			f.mu.Unlock()
			return
		}
		ok, truncated := f.serveOne(c)
		if !ok {
			if truncated || done == 0 {
				f.mu.Lock()
				f.broken++
				f.mu.Unlock()
			}
			return
		}
		done++
	}
}

// serveOne answers one submission; ok is false when the connection
// ended, truncated when it ended inside a body.
func (f *fakeCleanup) serveOne(c *ipc.Conn) (ok, truncated bool) {
	req, err := c.Receive(ipc.FrameRequest)
	if err != nil {
		return false, false
	}
	body, err := io.ReadAll(c.BodyReader())
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		return false, true
	}
	if f.refuse != nil {
		return c.Send(ipc.FrameReply, f.refuse) == nil, false
	}
	f.msgs = append(f.msgs, queued{req, string(body)})
	return c.Send(ipc.FrameReply, ipc.Record{{Name: "status", Value: "ok"}, {Name: "id", Value: fmt.Sprintf("QID%d", len(f.msgs))}}) == nil, false
}

func (f *fakeCleanup) messages() []queued {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]queued(nil), f.msgs...)
}

// testServer is an smtpd on a loopback port with a fake cleanup.
type testServer struct {
	stop    func() // stops smtpd (and the fake cleanup), as SIGTERM does
	addr    string
	cleanup *fakeCleanup
	log     *syncBuffer
}

type syncBuffer = testutil.SyncBuffer

// startServer runs an smtpd whose main.cf is the defaults plus extra.
func startServer(t *testing.T, extra string) *testServer {
	t.Helper()
	return startServerWith(t, extra, nil)
}

// startServerWith is startServer with a hook to adjust the Server.
func startServerWith(t *testing.T, extra string, adjust func(*Server)) *testServer {
	t.Helper()
	dir := t.TempDir()
	queueDir := filepath.Join(dir, "queue")
	if err := os.MkdirAll(filepath.Join(queueDir, "private"), 0o755); err != nil {
		t.Fatal(err)
	}
	mainCf := fmt.Sprintf("queue_directory = %s\nmyhostname = mx.example.tst\nmydomain = example.tst\n"+
		"mydestination = $myhostname, example.tst\nsmtpd_peername_lookup = no\nsmtpd_error_sleep_time = 0\n"+
		"alias_maps =\nlocal_recipient_maps =\n%s\n", queueDir, extra)
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{cleanup: &fakeCleanup{}, log: &syncBuffer{}}
	srv, err := New(cfg, dir, maillog.NewWriter(ts.log, "tern/smtpd"))
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := net.Listen("unix", filepath.Join(queueDir, "private", "cleanup"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = l.Addr().String()
	ts.stop = cancel
	var cleanupDone, smtpdDone sync.WaitGroup
	cleanupDone.Add(1)
	smtpdDone.Add(1)
	go func() { defer cleanupDone.Done(); _ = ipc.Serve(ctx, cl, 10*time.Second, ts.cleanup.serve) }()
	go func() { defer smtpdDone.Done(); _ = srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		smtpdDone.Wait()
		srv.Close() // closes the pooled cleanup connections
		cleanupDone.Wait()
		if t.Failed() {
			t.Logf("smtpd log:\n%s", ts.log.String())
		}
	})
	return ts
}

// client is a raw SMTP client for tests.
type testClient struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial(t *testing.T) *testClient {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	cl := &testClient{t: t, c: c, br: bufio.NewReader(c)}
	cl.expect("220 ")
	return cl
}

// send writes raw text (the caller adds line endings).
func (c *testClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply and returns it whole.
func (c *testClient) reply() string {
	c.t.Helper()
	var all strings.Builder
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply: %v (so far %q)", err, all.String())
		}
		all.WriteString(line)
		if len(line) < 4 || line[3] != '-' {
			return all.String()
		}
	}
}

// expect reads a reply and fails unless it starts with prefix.
func (c *testClient) expect(prefix string) string {
	c.t.Helper()
	r := c.reply()
	if !strings.HasPrefix(r, prefix) {
		c.t.Fatalf("reply %q, want %q...", r, prefix)
	}
	return r
}

// cmd sends one command line and expects a reply starting with prefix.
func (c *testClient) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

func rcptOf(q queued) []string {
	var out []string
	for _, v := range q.req.All("rcpt") {
		out = append(out, envelope.ParseRcptRecord(v).Address)
	}
	return out
}

func ipcRecord(kv ...string) ipc.Record {
	var r ipc.Record
	for i := 0; i+1 < len(kv); i += 2 {
		r = r.Add(kv[i], kv[i+1])
	}
	return r
}
