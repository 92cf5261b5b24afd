package qmgr

import (
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

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/queue"
)

// waitTimeout bounds every wait of these tests.
const waitTimeout = 10 * time.Second

type syncBuffer = testutil.SyncBuffer

// agentReq is what the fake delivery agent received.
type agentReq struct {
	env       *envelope.Envelope
	rcpts     []envelope.Recipient
	transport string
	nexthop   string
	body      string
	at        time.Time
}

// fakeAgent is a Deliverer that records requests and answers with answer
// (called with the request's number, from 0), or delivers everything.
type fakeAgent struct {
	mu     sync.Mutex
	reqs   []agentReq
	answer func(n int, r agentReq) []agent.Result
}

func (f *fakeAgent) Deliver(_ context.Context, req *agent.Request) []agent.Result {
	b, err := io.ReadAll(agent.Reader(req.Body))
	if err != nil {
		b = []byte(fmt.Sprintf("read error: %v", err))
	}
	r := agentReq{env: req.Env, rcpts: req.Recipients, transport: req.Transport, nexthop: req.Nexthop, body: string(b), at: time.Now()}
	f.mu.Lock()
	n := len(f.reqs)
	f.reqs = append(f.reqs, r)
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(n, r)
	}
	return allOK(r)
}

func allOK(r agentReq) []agent.Result {
	out := make([]agent.Result, len(r.rcpts))
	for i := range out {
		out[i] = agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to mailbox", Relay: "local"}
	}
	return out
}

func (f *fakeAgent) requests() []agentReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]agentReq(nil), f.reqs...)
}

// testMTA is a Manager running in-process on a temporary queue, with a
// fake local(8) agent at private/local.
type testMTA struct {
	t      *testing.T
	dir    string
	cfg    *config.Config
	log    *syncBuffer
	agent  *fakeAgent
	m      *Manager
	cancel context.CancelFunc
	done   chan error
	// agentStops stop the fake agents, after the manager.
	agentStops []func()
}

// newMTA writes the configuration (base settings plus extra main.cf lines)
// and starts the fake agent and the manager.
func newMTA(t *testing.T, extra string, fa *fakeAgent) *testMTA {
	t.Helper()
	dir := t.TempDir()
	for _, sub := range []string{"private", "public", "maildrop", "data"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mainCF := fmt.Sprintf(`queue_directory = %[1]s
data_directory = %[1]s/data
myhostname = mx.example.com
myorigin = example.com
mydestination = example.com, localhost
alias_maps =
minimal_backoff_time = 100ms
maximal_backoff_time = 100ms
queue_run_delay = 100ms
tern_queue_commit_delay = 1ms
%[2]s`, dir, extra)
	cfg, err := config.Parse("main.cf", strings.NewReader(mainCF))
	if err != nil {
		t.Fatalf("main.cf: %v", err)
	}
	if fa == nil {
		fa = &fakeAgent{}
	}
	h := &testMTA{t: t, dir: dir, cfg: cfg, log: &syncBuffer{}, agent: fa}
	t.Cleanup(func() {
		h.stop()
		for _, stop := range h.agentStops {
			stop()
		}
	})
	h.startAgent("local")
	h.start()
	return h
}

func (h *testMTA) logger(program string) *maillog.Logger {
	return maillog.NewWriter(h.log, program)
}

// startAgent serves the transport's socket, private/NAME, with the fake
// agent.
func (h *testMTA) startAgent(name string) {
	l, err := net.Listen("unix", filepath.Join(h.dir, "private", name))
	if err != nil {
		h.t.Fatal(err)
	}
	srv := &agent.Server{Deliverer: h.agent, Log: h.logger("tern/local"), SpoolDir: h.t.TempDir(), MemLimit: 1 << 20}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ipc.Serve(ctx, l, waitTimeout, srv.ServeConn)
	}()
	h.agentStops = append(h.agentStops, func() {
		cancel()
		<-done
	})
}

// socket is where the test listens for a qmgr service.
func (h *testMTA) socket(service string) string {
	if service == "cleanup" {
		return filepath.Join(h.dir, "private", service)
	}
	return filepath.Join(h.dir, "public", service)
}

// start runs a new Manager on the queue.
func (h *testMTA) start() {
	h.t.Helper()
	m, err := New(h.cfg, h.logger("tern/qmgr"))
	if err != nil {
		h.t.Fatalf("New: %v", err)
	}
	var ls []daemon.Listener
	for _, name := range []string{"cleanup", "pickup", "showq", "qmgr"} {
		l, err := net.Listen("unix", h.socket(name))
		if err != nil {
			h.t.Fatal(err)
		}
		ls = append(ls, daemon.Listener{Name: name, Type: "unix", Listener: l})
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.m, h.cancel, h.done = m, cancel, make(chan error, 1)
	go func() { h.done <- m.Run(ctx, ls) }()
}

// stop stops the manager and waits (bounded) for Run to return.
func (h *testMTA) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.waitDone()
}

// waitDone waits (bounded) for Run to return after a cancel.
func (h *testMTA) waitDone() {
	h.t.Helper()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitTimeout):
		h.t.Fatalf("Run did not return after cancel")
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitRequests waits until the agent has seen at least n requests.
func (h *testMTA) waitRequests(n int) []agentReq {
	h.t.Helper()
	waitFor(h.t, fmt.Sprintf("%d agent requests", n), func() bool { return len(h.agent.requests()) >= n })
	return h.agent.requests()
}

// queueEmpty reports whether no message is queued or being delivered.
func (h *testMTA) queueEmpty() bool {
	for _, n := range h.m.q.Counts() {
		if n != 0 {
			return false
		}
	}
	return len(h.m.sched.activeIDs()) == 0
}

func (h *testMTA) waitEmpty() {
	h.t.Helper()
	waitFor(h.t, "an empty queue", h.queueEmpty)
}

func (h *testMTA) waitLog(s string) {
	h.t.Helper()
	waitFor(h.t, "log line "+s, func() bool { return strings.Contains(h.log.String(), s) })
}

// waitState waits until message id is in state and not being delivered.
func (h *testMTA) waitState(id string, state queue.State) *envelope.Envelope {
	h.t.Helper()
	var env *envelope.Envelope
	waitFor(h.t, fmt.Sprintf("%s in %s", id, state), func() bool {
		e, st, err := h.m.q.Get(id)
		if err != nil || st != state || h.m.sched.activeIDs()[id] {
			return false
		}
		env = e
		return true
	})
	return env
}

// call sends one request (with a body unless body is nil) to a service
// and returns the reply and the connection, for a reply body.
func (h *testMTA) call(service string, req ipc.Record, body []byte) (ipc.Record, *ipc.Conn) {
	h.t.Helper()
	c, err := ipc.Dial(h.socket(service), waitTimeout)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	if err := c.WriteFrame(ipc.FrameRequest, req.Encode(nil)); err != nil {
		h.t.Fatal(err)
	}
	if body != nil {
		w := c.BodyWriter()
		if _, err := w.Write(body); err != nil {
			h.t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			h.t.Fatal(err)
		}
	} else if err := c.Flush(); err != nil {
		h.t.Fatal(err)
	}
	reply, err := c.Receive(ipc.FrameReply)
	if err != nil {
		h.t.Fatalf("%s reply: %v", service, err)
	}
	return reply, c
}

// submit sends a message through pickup as sendmail does and returns the
// queue id.
func (h *testMTA) submit(req ipc.Record, body string) string {
	h.t.Helper()
	req = append(ipc.Record{{Name: "request", Value: "submit"}}, req...)
	reply, c := h.call("pickup", req, []byte(body))
	c.Close()
	if reply.Get("status") != "ok" || reply.Get("id") == "" {
		h.t.Fatalf("submit refused: %v", reply)
	}
	return reply.Get("id")
}

// rcpts is a pickup request naming recipients.
func rcpts(addrs ...string) ipc.Record {
	var r ipc.Record
	for _, a := range addrs {
		r = r.Add("rcpt", a)
	}
	return r
}

// showq returns the mailq listing.
func (h *testMTA) showq() string {
	h.t.Helper()
	reply, c := h.call("showq", ipc.Record{{Name: "request", Value: "showq"}}, nil)
	defer c.Close()
	if reply.Get("status") != "ok" {
		h.t.Fatalf("showq: %v", reply)
	}
	b, err := io.ReadAll(c.BodyReader())
	if err != nil {
		h.t.Fatalf("showq body: %v", err)
	}
	return string(b)
}

// trigger sends a qmgr trigger request (flush or wakeup).
func (h *testMTA) trigger(name string) {
	h.t.Helper()
	reply, c := h.call("qmgr", ipc.Record{{Name: "request", Value: name}}, nil)
	c.Close()
	if reply.Get("status") != "ok" {
		h.t.Fatalf("%s: %v", name, reply)
	}
}
