package tests

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
)

// dovecotDir makes a folder for a Dovecot instance: a short path (unix
// socket names are limited to 108 bytes) that Dovecot's unprivileged
// workers and tern's daemons can walk into. t.Cleanup removes it.
func dovecotDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runDovecot writes files (name → content, in dir) and a dovecot.conf of
// the instance settings plus body, starts Dovecot in the foreground (our
// child, its output on /dev/null so nothing holds the test's pipes open),
// waits until socket exists, and stops it in t.Cleanup.
func runDovecot(t *testing.T, dir, body string, files map[string]string, socket string) {
	t.Helper()
	dovecot, err := exec.LookPath("dovecot")
	if err != nil {
		needPackage(t, "dovecot-core", "dovecot not installed")
	}
	var conf strings.Builder
	fmt.Fprintf(&conf, "instance_name = tern-%s\n", filepath.Base(dir))
	fmt.Fprintf(&conf, "base_dir = %s/run\nstate_dir = %s/state\nlog_path = %s/dovecot.log\n", dir, dir, dir)
	conf.WriteString(testutil.DovecotOwnerSettings(t))
	conf.WriteString(body)
	files["dovecot.conf"] = conf.String()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(dovecot, "-F", "-c", filepath.Join(dir, "dovecot.conf"))
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	t.Cleanup(func() { stopDovecot(t, dir, cmd, done) })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if fi, err := os.Stat(socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return
		}
		select {
		case <-done:
			t.Fatalf("dovecot exited: %v\n%s", waitErr, dovecotLog(dir))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dovecot socket %s after 15s\n%s", socket, dovecotLog(dir))
		}
	}
}

// stopDovecot sends SIGTERM to Dovecot's master and waits for it, killing
// it after 10s.
func stopDovecot(t *testing.T, dir string, cmd *exec.Cmd, done chan struct{}) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Errorf("stop dovecot: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("dovecot did not stop within 10s")
	}
	if t.Failed() {
		t.Logf("dovecot log:\n%s", dovecotLog(dir))
	}
}

func dovecotLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
	return string(b)
}

// needPackage skips the test, or fails it under CI where every package
// the tests use must be installed.
func needPackage(t *testing.T, pkg, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (Debian package %s)", why, pkg)
	}
	t.Skipf("%s (Debian package %s)", why, pkg)
}
