package sendmail

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

// result is what one Main call produced.
type result struct {
	code           int
	stdout, stderr string
}

// testEnv returns an Env over a fresh queue directory with public/ and
// maildrop/ subdirectories.
func testEnv(t *testing.T) Env {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"public", MaildropDir} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Env{
		QueueDirectory: dir,
		MyHostname:     "mx.example",
		Now:            func() time.Time { return time.Unix(1700000000, 5) },
		Whoami:         func() (string, int) { return "alice", 1000 },
		Dial:           func(path string) (*ipc.Conn, error) { return ipc.Dial(path, 5*time.Second) },
	}
}

func runMain(t *testing.T, env Env, argv0 string, args []string, stdin string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env.Stdin = strings.NewReader(stdin)
	env.Stdout, env.Stderr = &out, &errb
	code := Main(argv0, args, env)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// submission is what a fake pickup server received.
type submission struct {
	req     ipc.Record
	body    string
	bodyErr error
}

// fakeServer serves the unix socket rel under env's queue directory with h
// until the test ends.
func fakeServer(t *testing.T, env Env, rel string, h ipc.Handler) {
	t.Helper()
	path := filepath.Join(env.QueueDirectory, rel)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ipc.Serve(ctx, l, 5*time.Second, h)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// pickupRecorder is a fake pickup service that records submissions and
// answers each with reply.
type pickupRecorder struct {
	mu    sync.Mutex
	subs  []submission
	reply ipc.Record
}

func startPickup(t *testing.T, env Env, reply ipc.Record) *pickupRecorder {
	t.Helper()
	p := &pickupRecorder{reply: reply}
	fakeServer(t, env, PickupSocket, func(ctx context.Context, c *ipc.Conn) {
		req, err := c.Receive(ipc.FrameRequest)
		if err != nil {
			return
		}
		body, berr := io.ReadAll(c.BodyReader())
		p.mu.Lock()
		p.subs = append(p.subs, submission{req: req, body: string(body), bodyErr: berr})
		p.mu.Unlock()
		if berr == nil {
			_ = c.Send(ipc.FrameReply, p.reply)
		}
	})
	return p
}

// submissions returns what was received, waiting (bounded) for n of them:
// the server records after the client may already have given up.
func (p *pickupRecorder) submissions(t *testing.T, n int) []submission {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		subs := append([]submission(nil), p.subs...)
		p.mu.Unlock()
		if len(subs) >= n || time.Now().After(deadline) {
			return subs
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var okReply = ipc.Record{{Name: AttrStatus, Value: StatusOK}, {Name: AttrID, Value: "4ABCDEF"}}

// maildropFiles lists the names in the maildrop directory.
func maildropFiles(t *testing.T, env Env) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(env.QueueDirectory, MaildropDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func recordString(r ipc.Record) string {
	var b strings.Builder
	for _, a := range r {
		b.WriteString(a.Name + "=" + a.Value + "\n")
	}
	return b.String()
}

// discardOpen is a sink opener that accepts everything, for fuzzing.
func discardOpen(ipc.Record) (*sink, error) {
	c := ipc.NewConn(streamConn{w: io.Discard}, 0)
	return &sink{
		body:   c.BodyWriter(),
		finish: func() (string, error) { return "FUZZID", nil },
		abort:  func() {},
	}, nil
}

// failOpen is a sink opener that always fails.
func failOpen(ipc.Record) (*sink, error) { return nil, errors.New("down") }
