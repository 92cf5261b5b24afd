package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The relay phase's receiving end: Postfix's smtp-sink, one per mail
// system, on a free loopback port. Started with -c it writes a running
// count to its standard output whenever a session ends, a QUIT comes or
// a message's final "." arrives ("sess=N quit=N mesg=N", each followed by
// a carriage return); the bench reads the mesg= value as it comes.

// sinkBacklog is smtp-sink's listen backlog (its second argument), and
// sinkUser the account it switches to when started as root.
const (
	sinkBacklog = 256
	sinkUser    = "nobody"
)

// sinkStopWait bounds the wait for smtp-sink to exit after a kill.
const sinkStopWait = 5 * time.Second

// sink is one running smtp-sink.
type sink struct {
	addr    string
	cmd     *exec.Cmd
	counter *sinkCounter
	stderr  *lockedBuffer
	done    chan struct{} // closed when the process has been reaped
	waitErr error         // the process's exit, once done is closed
	stopped bool
}

// pickPort returns a free loopback address: bind port 0, note the
// port, close.
func pickPort() (string, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("pick a port: %w", err)
	}
	return addr, nil
}

// sinkArgs returns smtp-sink's command line: running counters, the
// unprivileged user when root (smtp-sink insists on one), the address
// and the backlog.
func sinkArgs(addr string, root bool) []string {
	a := []string{"-c"}
	if root {
		a = append(a, "-u", sinkUser)
	}
	return append(a, addr, strconv.Itoa(sinkBacklog))
}

// startSink starts smtp-sink at path on a free loopback port and waits
// until it accepts connections. The caller must call stop, on every
// path.
func startSink(ctx context.Context, path string) (*sink, error) {
	addr, err := pickPort()
	if err != nil {
		return nil, err
	}
	root := os.Geteuid() == 0
	if root {
		if _, err := user.Lookup(sinkUser); err != nil {
			return nil, fmt.Errorf("smtp-sink needs user %s when run as root: %w", sinkUser, err)
		}
	}
	s := &sink{addr: addr, counter: &sinkCounter{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	// Not CommandContext: the sink must outlive a cancelled context
	// only until stop, which every caller defers.
	s.cmd = exec.Command(path, sinkArgs(addr, root)...)
	s.cmd.Stdout, s.cmd.Stderr = s.counter, s.stderr
	s.cmd.WaitDelay = sinkStopWait
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls until the sink accepts a connection, failing early
// when the process exits (a port taken meanwhile, a bad option).
func (s *sink) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(controlTimeout)
	var d net.Dialer
	for {
		if s.exited() {
			return fmt.Errorf("smtp-sink on %s exited at start: %v: %s", s.addr, s.waitErr, s.stderr.String())
		}
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp4", s.addr)
		cancel()
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("smtp-sink: nothing listens on %s after %s: %w", s.addr, controlTimeout, err)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// exited reports whether the sink process has ended.
func (s *sink) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// received returns how many messages the sink has received and when the
// last of them arrived.
func (s *sink) received() (int, time.Time) { return s.counter.messages() }

// stop kills the sink and waits until it is reaped. It is safe to call
// more than once.
func (s *sink) stop() {
	if s == nil || s.stopped {
		return
	}
	s.stopped = true
	if !s.exited() {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(2 * sinkStopWait):
		fmt.Fprintf(os.Stderr, "bench: smtp-sink pid %d did not exit after a kill\n", s.cmd.Process.Pid)
	}
}

// sinkCounter is smtp-sink's standard output: it keeps the latest mesg=
// count and the time it last grew.
type sinkCounter struct {
	mu      sync.Mutex
	partial []byte // an unfinished status line
	msgs    int
	at      time.Time
}

// maxSinkLine bounds the unfinished status line kept between writes.
const maxSinkLine = 4096

// Write takes the next piece of smtp-sink's output.
func (c *sinkCounter) Write(p []byte) (int, error) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	data := append(c.partial, p...)
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		if n, ok := parseSinkStatus(data[:i]); ok && n > c.msgs {
			c.msgs, c.at = n, now
		}
		data = data[i+1:]
	}
	if len(data) > maxSinkLine {
		data = data[len(data)-maxSinkLine:]
	}
	c.partial = slices.Clone(data)
	return len(p), nil
}

// messages returns the count and when it last grew.
func (c *sinkCounter) messages() (int, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.msgs, c.at
}

// parseSinkStatus reads the mesg= count of one status line ("sess=3
// quit=3 mesg=2").
func parseSinkStatus(line []byte) (int, bool) {
	for _, f := range strings.Fields(string(line)) {
		v, ok := strings.CutPrefix(f, "mesg=")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || len(v) > 12 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// lockedBuffer is a bytes.Buffer safe for a process's writer goroutine
// and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p, keeping at most the first 64 KB.
func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 64<<10 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns what was written, trimmed.
func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}

// sinkUsable says whether smtp-sink is at path, and if not, why.
func sinkUsable(path string) (bool, string) {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) || err == nil && (st.IsDir() || st.Mode()&0o111 == 0) {
		return false, "smtp-sink (Debian package postfix) is not installed at " + path
	}
	if err != nil {
		return false, fmt.Sprintf("smtp-sink at %s: %v", path, err)
	}
	return true, ""
}
