package spawn

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

// commandUser is a user= the tests may run commands as: nobody as root
// (spawn refuses root), else the user running the tests.
func commandUser(t *testing.T) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return "nobody"
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u.Username
}

// startServer serves a spawn service running script with /bin/sh on a
// unix socket; it returns the socket's path and the log.
func startServer(t *testing.T, script string, limit time.Duration, maxProc int) (string, *testutil.SyncBuffer) {
	t.Helper()
	cfg, err := config.Parse("main.cf", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	log := &testutil.SyncBuffer{}
	s, err := New(cfg, "policy", []string{"user=" + commandUser(t), "argv=/bin/sh", "-c", script}, maillog.NewWriter(log, "tern/spawn"))
	if err != nil {
		t.Fatal(err)
	}
	s.TimeLimit, s.MaxProc = limit, maxProc
	path := filepath.Join(t.TempDir(), "policy")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return path, log
}

// dial connects to the service, with a deadline for the whole exchange.
func dial(t *testing.T, path string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func TestCommandSpeaksOverTheConnection(t *testing.T) {
	path, _ := startServer(t, `read line; echo "got $line"; echo "uid $(id -un)"`, time.Minute, 0)
	c, r := dial(t, path)
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"got hello\n", "uid " + commandUser(t) + "\n"} {
		if got, err := r.ReadString('\n'); got != want {
			t.Errorf("read %q, %v; want %q", got, err, want)
		}
	}
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("the connection stayed open after the command exited")
	}
}

func TestTimeLimitKillsTheCommand(t *testing.T) {
	path, log := startServer(t, "echo up; sleep 30", 2*time.Second, 0) // room for sh to start
	_, r := dial(t, path)
	if got, _ := r.ReadString('\n'); got != "up\n" {
		t.Fatalf("read %q", got)
	}
	start := time.Now()
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("more output after the time limit")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the connection closed %v after the limit", d)
	}
	testutil.WaitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(log.String(), "time limit of 2s exceeded; killed") })
}

// TestMaxProcBoundsCommands: with maxproc 1 a second client waits for the
// first command to end before its own starts.
func TestMaxProcBoundsCommands(t *testing.T) {
	path, _ := startServer(t, "echo start; read x; echo done", time.Minute, 1)
	c1, r1 := dial(t, path)
	if got, _ := r1.ReadString('\n'); got != "start\n" {
		t.Fatalf("first client read %q", got)
	}
	c2, r2 := dial(t, path)
	c2.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if got, err := r2.ReadString('\n'); err == nil {
		t.Fatalf("second command started beside the first: %q", got)
	}
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	c1.Write([]byte("x\n"))
	if got, _ := r1.ReadString('\n'); got != "done\n" {
		t.Fatalf("first client read %q", got)
	}
	if got, err := r2.ReadString('\n'); got != "start\n" {
		t.Fatalf("second client read %q, %v after the first ended", got, err)
	}
}

func TestExitStatusLogged(t *testing.T) {
	path, log := startServer(t, "exit 3", time.Minute, 0)
	_, r := dial(t, path)
	r.ReadString('\n')
	testutil.WaitFor(t, 5*time.Second, "the log line", func() bool { return strings.Contains(log.String(), "command /bin/sh -c exit 3 exit status 3") })
}

func TestNewRefusesOtherArguments(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader("policy_time_limit = 3600\nbad_time_limit = soon\n"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, "policy", []string{"user=" + commandUser(t), "argv=/bin/true"}, nil)
	if err != nil || s.TimeLimit != time.Hour {
		t.Errorf("New = %+v, %v; want a 3600s limit from policy_time_limit", s, err)
	}
	for _, tt := range []struct {
		service string
		args    []string
		want    string
	}{
		{"policy", []string{"flags=R", "user=x", "argv=/bin/true"}, `unknown argument "flags=R"`},
		{"policy", []string{"user=" + commandUser(t)}, "missing argv="},
		{"policy", []string{"argv=/bin/true"}, "missing user="},
		{"policy", []string{"user=root", "argv=/bin/true"}, "root"},
		{"bad", []string{"user=" + commandUser(t), "argv=/bin/true"}, "bad_time_limit = soon"},
	} {
		if _, err := New(cfg, tt.service, tt.args, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%q) = %v, want an error with %q", tt.args, err, tt.want)
		}
	}
}
