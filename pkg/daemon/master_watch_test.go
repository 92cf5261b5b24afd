package daemon

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/maillog"
)

// masterWatchChild is the daemon side of TestDaemonStopsWhenMasterDies,
// run in a child process of the test binary.
func masterWatchChild() {
	log := maillog.NewWriter(os.Stderr, "test")
	if err := watchMaster(os.Getenv(EnvMasterFD), log); err != nil {
		os.Exit(3)
	}
	ctx, cancel := SignalContext()
	defer cancel()
	if os.Geteuid() == 0 {
		// Change credentials on a thread, as local(8) does when it writes
		// a mailbox: the kernel then forgets a PR_SET_PDEATHSIG setting.
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			_, _, _ = syscall.RawSyscall(syscall.SYS_SETRESUID, ^uintptr(0), 65534, ^uintptr(0))
			close(done)
			select {} // keep the thread, with its changed credentials
		}()
		<-done
	}
	os.Stdout.WriteString("ready\n")
	select {
	case <-ctx.Done():
		os.Exit(0)
	case <-time.After(time.Minute):
		os.Exit(4)
	}
}

func TestMain(m *testing.M) {
	if os.Getenv("TERN_TEST_MASTER_WATCH") != "" {
		masterWatchChild()
	}
	os.Exit(m.Run())
}

func TestDaemonStopsWhenMasterDies(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "TERN_TEST_MASTER_WATCH=1", EnvMasterFD+"=3")
	cmd.ExtraFiles = []*os.File{r}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	if _, err := io.ReadFull(out, b[:]); err != nil || string(b[:]) != "ready\n" {
		t.Fatalf("child did not start: %q %v", b, err)
	}
	_ = w.Close() // what the kernel does when master dies
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("child: %v, want a clean stop on SIGTERM", err)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatal("child still running 5s after the master pipe closed")
	}
}

func TestWatchMasterBadDescriptor(t *testing.T) {
	log := maillog.NewWriter(os.Stderr, "test")
	for _, v := range []string{"x", "-1", "2"} {
		if err := watchMaster(v, log); err == nil {
			t.Errorf("watchMaster(%q) = nil, want an error", v)
		}
	}
	if err := watchMaster("", log); err != nil {
		t.Errorf("watchMaster(\"\") = %v, want nil", err)
	}
}
