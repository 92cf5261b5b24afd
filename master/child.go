package master

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/maillog"
)

// Restart policy, as in Postfix: a daemon that ran this long is restarted
// at once; one that died sooner is restarted after a doubling back-off.
const (
	healthyRun  = 10 * time.Second
	firstDelay  = time.Second
	maxDelay    = 60 * time.Second
	killedDelay = 5 * time.Second // how long to wait for a SIGKILLed child
)

// childEnv builds the environment of a daemon: master's own minus any
// TERN_* variable, plus the pkg/daemon contract variables.
type childEnv struct {
	ConfigDir string
	QueueDir  string
	Owner     owner
}

// listenerItem names one inherited fd in TERN_LISTENERS. pkg/daemon splits
// items on ':', so a colon in an inet service name ("127.0.0.1:25") is
// written as '_' there; TERN_SERVICE keeps the real name.
func listenerItem(s sockSpec) string {
	name := strings.NewReplacer(":", "_", ",", "_").Replace(s.Service)
	return fmt.Sprintf("%s:%s:%d", name, s.Type, s.Wakeup)
}

// importEnvironment returns the environment daemons start with, as
// Postfix's import_environment has it: each NAME is kept from from when
// set there, each NAME=value is set. Nothing else passes, so daemons do
// not inherit whatever the shell that started tern had (LD_PRELOAD, a
// stray MYSQL_PWD, ...).
func importEnvironment(list, from []string) []string {
	have := make(map[string]string, len(from))
	for _, kv := range from {
		if k, v, ok := strings.Cut(kv, "="); ok {
			have[k] = v
		}
	}
	var env []string
	for _, item := range list {
		if strings.Contains(item, "=") {
			env = append(env, item)
			continue
		}
		if v, ok := have[item]; ok {
			env = append(env, item+"="+v)
		}
	}
	return env
}

// environ returns the environment for p whose sockets are socks.
func (e childEnv) environ(base []string, p procSpec, socks []*socket) []string {
	var env []string
	for _, kv := range base {
		if !strings.HasPrefix(kv, "TERN_") {
			env = append(env, kv)
		}
	}
	items := make([]string, len(socks))
	for i, s := range socks {
		items[i] = listenerItem(s.spec)
	}
	overrides := make([]string, len(p.Overrides))
	for i, o := range p.Overrides {
		overrides[i] = o[0] + "=" + o[1]
	}
	var user, chroot string
	if e.Owner.Root && p.Unpriv {
		user = e.Owner.Name
	}
	if e.Owner.Root && p.Chroot {
		chroot = e.QueueDir
	}
	return append(env,
		daemon.EnvConfigDir+"="+e.ConfigDir,
		daemon.EnvListeners+"="+strings.Join(items, ","),
		daemon.EnvOverrides+"="+strings.Join(overrides, "\n"),
		daemon.EnvUser+"="+user,
		daemon.EnvChroot+"="+chroot,
		daemon.EnvMaxProc+"="+strconv.Itoa(p.MaxProc),
		daemon.EnvService+"="+p.Service,
	)
}

// child supervises one daemon process: it starts it, restarts it when it
// dies, and stops it when told.
type child struct {
	name    string // "/PATH/COMMAND" as Postfix logs it
	newCmd  func() *exec.Cmd
	log     *maillog.Logger
	timeout time.Duration // SIGTERM grace before SIGKILL
	stopc   chan struct{} // closed to stop
	done    chan struct{} // closed when supervise returns
	kill    atomic.Bool   // stop with SIGKILL at once
	pid     atomic.Int64
}

// newChild prepares the supervisor of process p.
// The read end of master's life pipe, life, follows the sockets.
func newChild(binary string, p procSpec, env []string, socks []*socket, life *os.File, log *maillog.Logger, timeout time.Duration) *child {
	files := make([]*os.File, len(socks), len(socks)+1)
	for i, s := range socks {
		files[i] = s.file
	}
	files = append(files, life)
	env = append(env, fmt.Sprintf("%s=%d", daemon.EnvMasterFD, daemon.FirstFD+len(socks)))
	args := append([]string{"daemon", p.Daemon}, p.Args...)
	return &child{
		name: filepath.Join(filepath.Dir(binary), p.Daemon),
		newCmd: func() *exec.Cmd {
			cmd := exec.Command(binary, args...)
			cmd.Env = env
			cmd.ExtraFiles = files
			cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
			return cmd
		},
		log: log, timeout: timeout,
		stopc: make(chan struct{}), done: make(chan struct{}),
	}
}

// stop asks the supervisor to end its process; immediate means SIGKILL.
func (c *child) stop(immediate bool) {
	if immediate {
		c.kill.Store(true)
	}
	select {
	case <-c.stopc:
	default:
		close(c.stopc)
	}
}

// supervise runs the process until stop, restarting it whenever it dies.
func (c *child) supervise() {
	defer close(c.done)
	var delay time.Duration
	for {
		cmd := c.newCmd()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			c.log.Warnf("%s: start: %v", c.name, err)
		} else {
			c.pid.Store(int64(cmd.Process.Pid))
			waitc := make(chan error, 1)
			go func() { waitc <- cmd.Wait() }()
			select {
			case err := <-waitc:
				c.logExit(cmd, err)
			case <-c.stopc:
				c.terminate(cmd, waitc)
				return
			}
		}
		c.pid.Store(0)
		if time.Since(start) >= healthyRun {
			delay = 0
			continue
		}
		delay = min(max(2*delay, firstDelay), maxDelay)
		c.log.Warnf("%s: bad command startup -- throttling", c.name)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.stopc:
			t.Stop()
			return
		}
	}
}

// logExit logs a process's end the way Postfix's master does.
func (c *child) logExit(cmd *exec.Cmd, err error) {
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.log.Warnf("process %s pid %d: wait: %v", c.name, cmd.Process.Pid, err)
		return
	}
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		c.log.Warnf("process %s pid %d killed by signal %d", c.name, cmd.Process.Pid, int(ws.Signal()))
	case cmd.ProcessState.ExitCode() == 0:
		c.log.Infof("process %s pid %d exit status 0", c.name, cmd.Process.Pid)
	default:
		c.log.Warnf("process %s pid %d exit status %d", c.name, cmd.Process.Pid, cmd.ProcessState.ExitCode())
	}
}

// terminate ends cmd: SIGTERM, then SIGKILL after the timeout (at once for
// an immediate stop), and waits for it.
func (c *child) terminate(cmd *exec.Cmd, waitc <-chan error) {
	if !c.kill.Load() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(c.timeout)
		defer t.Stop()
		select {
		case <-waitc:
			return
		case <-t.C:
			c.log.Warnf("process %s pid %d did not stop in %s; killing it", c.name, cmd.Process.Pid, c.timeout)
		}
	}
	_ = cmd.Process.Kill()
	t := time.NewTimer(killedDelay)
	defer t.Stop()
	select {
	case <-waitc:
	case <-t.C:
		c.log.Warnf("process %s pid %d: no exit after SIGKILL", c.name, cmd.Process.Pid)
	}
}
