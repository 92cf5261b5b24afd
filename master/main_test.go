package master

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/config"
)

// runMain runs Main and returns its exit status and stderr.
func runMain(t *testing.T, opt Options, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	opt.Stderr, opt.Stdout = &stderr, &stderr
	code := Main(args, opt)
	return code, stderr.String()
}

func TestMainCheck(t *testing.T) {
	dir, queue, _ := setup(t, testMasterCf)
	code, out := runMain(t, Options{}, "check", "-c", dir)
	if code != 0 {
		t.Fatalf("check: %d %s", code, out)
	}
	want := "tern: warning: " + filepath.Join(dir, "master.cf") + ":7: unsupported command qmqpd; service bad not started\n"
	if !strings.Contains(out, want) {
		t.Errorf("check output lacks %q:\n%s", want, out)
	}
	// The tlsmgr entry is a note at master's start, not a warning.
	if strings.Contains(out, "tlsmgr") {
		t.Errorf("check warns about the plain tlsmgr entry:\n%s", out)
	}
	checkMode(t, filepath.Join(queue, "private"), 0o700)
	// Only the daemons of this build count as supported.
	code, out = runMain(t, Options{Daemons: map[string]bool{"qmgr": true}}, "check", "-c", dir)
	if code != 0 || !strings.Contains(out, ":2: unsupported command smtpd; service 127.0.0.1:0 not started") {
		t.Errorf("check with qmgr only: %d %s", code, out)
	}

	// Unknown main.cf parameters are warned about, unless master.cf uses them.
	mainCf := filepath.Join(dir, "main.cf")
	data, err := os.ReadFile(mainCf)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, mainCf, string(data)+"foo_bar_baz = 1\nmua_helper_xyz = permit\n")
	writeFile(t, filepath.Join(dir, "master.cf"), "cleanup unix n - n - 0 cleanup -o x_restrictions=$mua_helper_xyz\n")
	code, out = runMain(t, Options{}, "check", "-c", dir)
	if code != 0 || !strings.Contains(out, "tern: warning: "+mainCf+":6: ") || !strings.Contains(out, "foo_bar_baz") ||
		strings.Contains(out, "mua_helper_xyz") || strings.Contains(out, "warning: warning") {
		t.Errorf("unknown parameters: %d %q", code, out)
	}

	writeFile(t, mainCf, "queue_directory = "+queue+"\nthis line is bad\n")
	code, out = runMain(t, Options{}, "check", "-c", dir)
	if code != 2 || !strings.HasPrefix(out, filepath.Join(dir, "main.cf")+":2: ") {
		t.Errorf("bad main.cf: %d %q", code, out)
	}
	// MAIL_CONFIG names the directory when -c is absent.
	t.Setenv("MAIL_CONFIG", dir)
	if code, out := runMain(t, Options{}, "check"); code != 2 || !strings.Contains(out, "main.cf:2:") {
		t.Errorf("MAIL_CONFIG: %d %q", code, out)
	}
}

func TestMainUsage(t *testing.T) {
	tests := [][]string{nil, {"frobnicate"}, {"start", "extra"}, {"status", "--bogus"}}
	for _, args := range tests {
		if code, out := runMain(t, Options{}, args...); code != 1 || !strings.Contains(out, "usage:") {
			t.Errorf("Main(%q) = %d %q", args, code, out)
		}
	}
}

func TestMainStartStop(t *testing.T) {
	dir, queue, logFile := setup(t, "cleanup unix n - n - 0 cleanup\n")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	opt := Options{Binary: exe}
	t.Cleanup(func() { runMain(t, opt, "abort", "-c", dir) })

	if code, out := runMain(t, opt, "status", "-c", dir); code != 1 || out != "tern: the tern mail system is not running\n" {
		t.Errorf("status before start: %d %q", code, out)
	}
	if code, out := runMain(t, opt, "stop", "-c", dir); code != 1 || out != "tern: fatal: the tern mail system is not running\n" {
		t.Errorf("stop before start: %d %q", code, out)
	}
	if code, out := runMain(t, opt, "start", "-c", dir); code != 0 || out != "tern: starting the tern mail system\n" {
		t.Fatalf("start: %d %q", code, out)
	}
	code, out := runMain(t, opt, "status", "-c", dir)
	pid, _ := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(out), "tern: the tern mail system is running: PID: "))
	if code != 0 || pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("status: %d %q", code, out)
	}
	cleanup := filepath.Join(queue, "public", "cleanup")
	first := waitAnswer(t, "unix", cleanup, 0)
	if code, out := runMain(t, opt, "start", "-c", dir); code != 1 || !strings.Contains(out, "tern: fatal: the tern mail system is already running") {
		t.Errorf("second start: %d %q", code, out)
	}
	if code, out := runMain(t, opt, "reload", "-c", dir); code != 0 || out != "tern: refreshing the tern mail system\n" {
		t.Errorf("reload: %d %q", code, out)
	}
	waitAnswer(t, "unix", cleanup, first.pid)
	waitLog(t, logFile, "reload -- version 0.1")
	if code, out := runMain(t, opt, "stop", "-c", dir); code != 0 || out != "tern: stopping the tern mail system\n" {
		t.Errorf("stop: %d %q", code, out)
	}
	waitLog(t, logFile, "terminating on signal 15")
	if _, err := os.Lstat(cleanup); !os.IsNotExist(err) {
		t.Errorf("socket left after stop: %v", err)
	}
	if code, _ := runMain(t, opt, "status", "-c", dir); code != 1 {
		t.Errorf("status after stop: %d", code)
	}
}

func TestMainStartFailure(t *testing.T) {
	dir, queue, _ := setup(t, "cleanup unix n - n - 0 cleanup\n")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// A directory where the socket goes makes the detached master fail.
	if code, out := runMain(t, Options{}, "check", "-c", dir); code != 0 {
		t.Fatalf("check: %d %s", code, out)
	}
	if err := os.Mkdir(filepath.Join(queue, "public", "cleanup"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out := runMain(t, Options{Binary: exe}, "start", "-c", dir)
	if code != 1 || !strings.Contains(out, "tern: fatal: ") || !strings.Contains(out, "is not a socket") {
		t.Errorf("start with a blocked socket path: %d %q", code, out)
	}
	if time.Since(start) > startWait {
		t.Errorf("start took %v", time.Since(start))
	}
}

// TestCheckRunsDaemonChecks: a daemon's check sees main.cf with the
// service's -o overrides, and its error stops check with exit 2 at the
// master.cf entry.
func TestCheckRunsDaemonChecks(t *testing.T) {
	dir, _, _ := setup(t, "127.0.0.1:0 inet n - n - - smtpd\n  -o smtpd_relay_restrictions=bogus_word\n")
	var seen string
	check := func(cfg *config.Config, _, _ string, _ []string) error {
		seen = cfg.Get("smtpd_relay_restrictions")
		if seen == "bogus_word" {
			return errors.New("smtpd_relay_restrictions: unknown restriction bogus_word")
		}
		return nil
	}
	opt := Options{Checks: map[string]CheckFunc{"smtpd": check}}
	code, out := runMain(t, opt, "check", "-c", dir)
	want := filepath.Join(dir, "master.cf") + ":1: service 127.0.0.1:0: smtpd_relay_restrictions: unknown restriction bogus_word"
	if code != 2 || !strings.Contains(out, want) {
		t.Errorf("check: %d %q, want exit 2 and %q", code, out, want)
	}
	if seen != "bogus_word" {
		t.Errorf("the check saw %q, not the -o override", seen)
	}
	code, out = runMain(t, opt, "start", "-c", dir)
	if code != 2 || !strings.Contains(out, want) {
		t.Errorf("start: %d %q", code, out)
	}
}
