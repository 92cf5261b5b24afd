// Package testdb starts throw-away MariaDB and PostgreSQL servers for
// tests: each in its own t.TempDir(), listening on 127.0.0.1 at a free
// port and on a UNIX-domain socket, with a database and a user made for
// the test, and stopped by t.Cleanup.
//
// When the server programs are not installed the test is skipped, unless
// the environment variable CI is set: then it fails.
package testdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Time limits for starting and stopping a server.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 15 * time.Second
	pollInterval = 50 * time.Millisecond
)

// missing skips the test, or fails it under CI, because what is missing.
func missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("testdb: %s not found (CI is set, so this is an error)", what)
	}
	t.Skipf("testdb: %s not found", what)
}

// findProgram returns the first of the candidate paths or PATH names that
// exists, or "".
func findProgram(candidates ...string) string {
	for _, c := range candidates {
		if filepath.IsAbs(c) {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testdb: pick a port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serverUser is the account a database server runs as.
type serverUser struct {
	uid, gid int
	// switchUser is set when the tests run as root: the servers refuse
	// to run as root, so they run as their system user (uid, gid).
	// Otherwise they run as the user running the tests.
	switchUser bool
}

// serverAccount returns the account a server runs as: the system user
// name when the tests run as root, else the user running the tests.
func serverAccount(t testing.TB, name string) serverUser {
	t.Helper()
	if os.Geteuid() != 0 {
		return serverUser{uid: os.Getuid(), gid: os.Getgid()}
	}
	u, err := user.Lookup(name)
	if err != nil {
		missing(t, "system user "+name)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("testdb: user %s: bad uid/gid %q/%q", name, u.Uid, u.Gid)
	}
	return serverUser{uid: uid, gid: gid, switchUser: true}
}

// credential returns the SysProcAttr credential that runs a command as
// u, or nil when no switch is needed.
func (u serverUser) credential() *syscall.Credential {
	if !u.switchUser {
		return nil
	}
	return &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
}

// serverDir makes a directory in t.TempDir() owned by the server's user,
// and makes the temp directories above it searchable so that it can reach
// it. Socket paths are limited to about 100 bytes, so when the temp
// directory is too deep a shorter one is made under os.TempDir().
func serverDir(t testing.TB, u serverUser) string {
	t.Helper()
	dir := t.TempDir()
	if len(dir) > 60 {
		short, err := os.MkdirTemp("", "tdb")
		if err != nil {
			t.Fatalf("testdb: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(short) })
		dir = short
	}
	for _, d := range []string{filepath.Dir(dir), dir} {
		if d == os.TempDir() || d == "/" {
			continue
		}
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("testdb: chmod %s: %v", d, err)
		}
	}
	if !u.switchUser {
		return dir
	}
	if err := os.Chown(dir, u.uid, u.gid); err != nil {
		t.Fatalf("testdb: chown %s: %v", dir, err)
	}
	return dir
}

// process is a running server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // exit status, set before done is closed
}

// startProcess starts cmd in its own process group and reaps it.
func startProcess(cmd *exec.Cmd) (*process, error) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop sends sig and waits for the process to exit; after stopTimeout it
// kills the process group.
func (p *process) stop(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.cmd.Path, err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(stopTimeout):
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within %v; killed", p.cmd.Path, stopTimeout)
}

// waitReady polls ready until it succeeds, the process exits, or the
// start timeout passes.
func (p *process) waitReady(ready func(context.Context) error) error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("server exited during start-up: %v", p.err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		last = ready(ctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(pollInterval)
	}
	return fmt.Errorf("server not ready after %v: %v", startTimeout, last)
}

// tail returns the end of a log file for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// run runs a set-up command and fails the test with its output.
func run(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("testdb: %s: %v\n%s", cmd.String(), err, out)
	}
}
