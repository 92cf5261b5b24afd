package master

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/daemon"
)

// TestMain lets the test binary play the daemons ("daemon COMMAND ...")
// and a detached master ("master -c DIR") for the end-to-end tests.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "daemon":
			os.Exit(fakeDaemon(os.Args[2:]))
		case "master":
			os.Exit(Main(os.Args[1:], Options{StopTimeout: 5 * time.Second}))
		}
	}
	os.Exit(m.Run())
}

// fakeDaemon answers every connection on its inherited listeners with one
// line naming itself, until SIGTERM. The master.cf override fake_fail=yes
// makes it exit with status 3 at once.
func fakeDaemon(args []string) int {
	if strings.Contains(os.Getenv(daemon.EnvOverrides), "fake_fail=yes") {
		return 3
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM)
	items := strings.Split(os.Getenv(daemon.EnvListeners), ",")
	for i, item := range items {
		f := os.NewFile(uintptr(daemon.FirstFD+i), item)
		ln, err := net.FileListener(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "fake daemon: %v\n", err)
			return 4
		}
		answer := fmt.Sprintf("%d %s %s %s %s\n", os.Getpid(), args[0], os.Getenv(daemon.EnvService), item, os.Getenv(daemon.EnvConfigDir))
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Write([]byte(answer))
				c.Close()
			}
		}()
	}
	<-sigs
	return 0
}

// answer is what a fake daemon said.
type answer struct {
	pid                       int
	daemon, service, listener string
}

func ask(network, addr string) (answer, error) {
	c, err := net.DialTimeout(network, addr, 2*time.Second)
	if err != nil {
		return answer{}, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return answer{}, fmt.Errorf("read from %s: %w", addr, err)
	}
	f := strings.Fields(line)
	if len(f) != 5 {
		return answer{}, fmt.Errorf("bad answer %q", line)
	}
	pid, _ := strconv.Atoi(f[0])
	return answer{pid: pid, daemon: f[1], service: f[2], listener: f[3]}, nil
}

// waitAnswer polls addr until a daemon other than notPID answers.
func waitAnswer(t *testing.T, network, addr string, notPID int) answer {
	t.Helper()
	var a answer
	var err error
	ok := pollUntil(15*time.Second, func() bool {
		a, err = ask(network, addr)
		return err == nil && a.pid != notPID
	})
	if !ok {
		t.Fatalf("no answer from a new daemon on %s (old pid %d): %+v %v", addr, notPID, a, err)
	}
	return a
}

// setup writes main.cf and master.cf into a fresh directory.
func setup(t *testing.T, masterCf string) (dir, queue, logFile string) {
	t.Helper()
	dir = t.TempDir()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	queue, logFile = filepath.Join(dir, "queue"), filepath.Join(dir, "maillog")
	mainCf := fmt.Sprintf("queue_directory = %s\nmail_owner = %s\nmaillog_file = %s\nmaillog_file_prefixes = %s\ninet_interfaces = loopback-only\n", queue, u.Username, logFile, dir)
	writeFile(t, filepath.Join(dir, "main.cf"), mainCf)
	writeFile(t, filepath.Join(dir, "master.cf"), masterCf)
	return dir, queue, logFile
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitLog polls the log until it contains want.
func waitLog(t *testing.T, path, want string) {
	t.Helper()
	if !pollUntil(15*time.Second, func() bool {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), want)
	}) {
		data, _ := os.ReadFile(path)
		t.Fatalf("log lacks %q:\n%s", want, data)
	}
}

const testMasterCf = `# service type private unpriv chroot wakeup maxproc command
127.0.0.1:0 inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
relay     unix - - n - - smtp
tlsmgr    unix - - n 1000? 1 tlsmgr
bad       unix - - n - - qmqpd
fail      unix - - n - - lmtp -o fake_fail=yes
`

// listenRecorder records Options.OnListen calls.
type listenRecorder struct {
	mu    sync.Mutex
	addrs map[string]string
}

func (r *listenRecorder) record(service, addr string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.addrs[service] = addr
}

func (r *listenRecorder) get(service string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addrs[service]
}

func TestRunEndToEnd(t *testing.T) {
	dir, queue, logFile := setup(t, testMasterCf)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	rec := &listenRecorder{addrs: map[string]string{}}
	ready := make(chan struct{})
	opt := Options{
		ConfigDir: dir, Binary: exe, StopTimeout: 5 * time.Second,
		OnListen: rec.record, OnReady: func() { close(ready) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, opt) }()
	select {
	case <-ready:
	case err := <-errc:
		t.Fatalf("Run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("master not ready")
	}

	inet := rec.get("127.0.0.1:0")
	if !strings.HasPrefix(inet, "127.0.0.1:") || inet == "127.0.0.1:0" {
		t.Fatalf("inet listener address %q", inet)
	}
	smtpd := waitAnswer(t, "tcp", inet, 0)
	if smtpd.daemon != "smtpd" || smtpd.listener != "127.0.0.1_0:inet:0" || smtpd.service != "127.0.0.1:0" {
		t.Errorf("inet answer %+v", smtpd)
	}
	cleanup := waitAnswer(t, "unix", filepath.Join(queue, "public", "cleanup"), 0)
	qmgr := waitAnswer(t, "unix", filepath.Join(queue, "public", "qmgr"), 0)
	if cleanup.daemon != "qmgr" || cleanup.pid != qmgr.pid || cleanup.listener != "cleanup:unix:0" || qmgr.listener != "qmgr:unix:300" {
		t.Errorf("folded services: cleanup %+v, qmgr %+v", cleanup, qmgr)
	}
	relayPath := filepath.Join(queue, "private", "relay")
	if a := waitAnswer(t, "unix", relayPath, 0); a.daemon != "smtp" || a.service != "relay" {
		t.Errorf("relay answer %+v", a)
	}
	checkMode(t, relayPath, 0o600)
	checkMode(t, filepath.Join(queue, "public", "cleanup"), 0o666)
	pidFile := pidPath(queue)
	if pid, running, err := masterPID(pidFile); err != nil || !running || pid != os.Getpid() {
		t.Errorf("pid file: %d %v %v", pid, running, err)
	}
	if err := Run(context.Background(), opt); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run: %v, want ErrRunning", err)
	}
	for _, want := range []string{
		"daemon started -- version 0.1, configuration " + dir,
		"starting with: mail_owner = ",
		"]: " + filepath.Join(dir, "master.cf") + ":6: service tlsmgr: command tlsmgr is not needed by tern (smtpd and smtp keep their own TLS session caches); no process started",
		"warning: " + filepath.Join(dir, "master.cf") + ":7: unsupported command qmqpd; service bad not started",
		"fatal: the tern mail system is already running",
		" exit status 3",
		"lmtp: bad command startup -- throttling",
	} {
		waitLog(t, logFile, want)
	}

	// A killed daemon is restarted.
	if err := syscall.Kill(smtpd.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restarted := waitAnswer(t, "tcp", inet, smtpd.pid)
	waitLog(t, logFile, fmt.Sprintf("/smtpd pid %d killed by signal 9", smtpd.pid))

	// Reload: daemons restart, the inet port is kept, relay goes, new comes.
	writeFile(t, filepath.Join(dir, "master.cf"), strings.Replace(testMasterCf, "relay ", "new   ", 1))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if a := waitAnswer(t, "tcp", inet, restarted.pid); a.daemon != "smtpd" {
		t.Errorf("after reload: %+v", a)
	}
	if a := waitAnswer(t, "unix", filepath.Join(queue, "private", "new"), 0); a.service != "new" {
		t.Errorf("new service: %+v", a)
	}
	if _, err := os.Lstat(relayPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("vanished service's socket still there: %v", err)
	}
	waitLog(t, logFile, "reload -- version 0.1, configuration "+dir)

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("master did not stop")
	}
	for _, path := range []string{pidFile, filepath.Join(queue, "public", "cleanup"), filepath.Join(queue, "private", "new")} {
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind: %v", path, err)
		}
	}
	if _, err := net.DialTimeout("tcp", inet, time.Second); err == nil {
		t.Errorf("%s still accepts after stop", inet)
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != want {
		t.Errorf("%s mode %v, want %v", path, st.Mode().Perm(), want)
	}
}
