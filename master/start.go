package master

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// envNotify names the descriptor on which a master started by `tern start`
// reports readiness ("ready") or the reason it failed, then closes it.
const envNotify = "TERN_MASTER_NOTIFY_FD"

// readyWord is what master writes on the notify descriptor when ready.
const readyWord = "ready"

// notifyPipe returns the descriptor named by TERN_MASTER_NOTIFY_FD, marked
// close-on-exec so that daemons do not inherit it, or nil.
func notifyPipe() *os.File {
	fd, err := strconv.Atoi(os.Getenv(envNotify))
	if err != nil || fd < 3 {
		return nil
	}
	syscall.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "master-notify")
}

// start validates the configuration, refuses a second master, and starts
// master detached, waiting until it is ready.
func (c *cli) start() int {
	l, code := c.validate()
	if code != 0 {
		return code
	}
	if err := l.prepareDirs(); err != nil {
		return c.fatalf(1, "%v", err)
	}
	if _, running, err := masterPID(pidPath(l.queueDir)); err != nil {
		return c.fatalf(1, "%v", err)
	} else if running {
		return c.fatalf(1, "%s", ErrRunning)
	}
	c.infof("starting the tern mail system")
	if err := c.spawn(); err != nil {
		return c.fatalf(1, "%v", err)
	}
	return 0
}

// spawn execs `BINARY master -c DIR` in a new session with stdio on
// /dev/null and waits (bounded) for its readiness report.
func (c *cli) spawn() error {
	binary := c.opt.Binary
	if binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the tern executable: %w", err)
		}
		binary = exe
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("notify pipe: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(binary, "master", "-c", c.dir)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envNotify+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envNotify+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		return fmt.Errorf("start master: %w", err)
	}
	_ = r.SetReadDeadline(time.Now().Add(startWait))
	msg, rerr := io.ReadAll(r)
	text := strings.TrimSpace(string(msg))
	if text == readyWord {
		return cmd.Process.Release()
	}
	if errors.Is(rerr, os.ErrDeadlineExceeded) {
		_ = cmd.Process.Release()
		return fmt.Errorf("the tern mail system did not become ready within %s", startWait)
	}
	werr := cmd.Wait()
	if text == "" {
		return fmt.Errorf("master exited before it was ready: %v", werr)
	}
	return errors.New(text)
}
