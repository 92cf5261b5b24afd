package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/tern-mta/tern/pkg/config"
)

// Bounds of the commands that wait for master.
const (
	startWait = 10 * time.Second // until a started master is ready
	stopWait  = 30 * time.Second // until a stopped master released the pid file
	pollEvery = 50 * time.Millisecond
)

const usage = "usage: tern [-c config_dir] start|stop|reload|status|check|start-fg|abort|logrotate"

// cli is one run of Main.
type cli struct {
	opt    Options
	stderr io.Writer
	dir    string
}

// Main implements `tern start|stop|reload|status|check|start-fg|master|abort|logrotate`;
// args[0] is the subcommand. Each takes -c DIR (default: MAIL_CONFIG, then
// the built-in directory). It returns the exit status: 0 on success, 2 for
// a configuration error, 1 for any other failure.
func Main(args []string, opt Options) int {
	if opt.Stdout == nil {
		opt.Stdout = os.Stdout
	}
	if opt.Stderr == nil {
		opt.Stderr = os.Stderr
	}
	c := &cli{opt: opt, stderr: opt.Stderr}
	if len(args) == 0 {
		return c.fatalf(1, "%s", usage)
	}
	fs := pflag.NewFlagSet("tern "+args[0], pflag.ContinueOnError)
	fs.SetOutput(c.stderr)
	dir := fs.StringP("config", "c", opt.ConfigDir, "configuration directory")
	if err := fs.Parse(args[1:]); err != nil {
		return c.fatalf(1, "%s", usage)
	}
	if fs.NArg() > 0 {
		return c.fatalf(1, "%s", usage)
	}
	abs, err := filepath.Abs(config.Dir(*dir))
	if err != nil {
		return c.fatalf(1, "configuration directory: %v", err)
	}
	c.dir, c.opt.ConfigDir = abs, abs
	return c.dispatch(args[0])
}

func (c *cli) dispatch(sub string) int {
	switch sub {
	case "check":
		return c.check()
	case "start":
		return c.start()
	case "start-fg":
		return c.foreground(nil)
	case "master":
		return c.foreground(notifyPipe())
	case "stop":
		return c.signal(syscall.SIGTERM, "stopping")
	case "abort":
		return c.signal(syscall.SIGINT, "aborting")
	case "reload":
		return c.reload()
	case "status":
		return c.status()
	case "logrotate":
		return c.logrotate()
	}
	return c.fatalf(1, "unknown command %q; %s", sub, usage)
}

func (c *cli) fatalf(code int, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "tern: fatal: "+format+"\n", args...)
	return code
}

func (c *cli) infof(format string, args ...any) {
	fmt.Fprintf(c.stderr, "tern: "+format+"\n", args...)
}

// errorText formats err for the admin: "FILE:LINE: message" for a
// configuration error.
func errorText(err error) string {
	var ce *config.Error
	if errors.As(err, &ce) {
		if ce.Line > 0 {
			return fmt.Sprintf("%s:%d: %s", ce.File, ce.Line, ce.Msg)
		}
		return fmt.Sprintf("%s: %s", ce.File, ce.Msg)
	}
	return err.Error()
}

// failure reports err and returns its exit status: 2 for a configuration
// error (printed bare, as "FILE:LINE: message"), 1 otherwise.
func (c *cli) failure(err error) int {
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(c.stderr, errorText(err))
		return 2
	}
	return c.fatalf(1, "%s", errorText(err))
}

// validate loads main.cf and master.cf as master would and prints every
// warning; it returns the plan or a non-zero exit status.
func (c *cli) validate() (*loaded, int) {
	cfg, err := config.Load(c.dir)
	if err != nil {
		return nil, c.failure(err)
	}
	l, err := load(c.dir, cfg, c.opt, "")
	if err != nil {
		return nil, c.failure(err)
	}
	for _, w := range l.warnings {
		fmt.Fprintf(c.stderr, "tern: warning: %s\n", w)
	}
	return l, 0
}

// check validates the configuration and creates the queue directories
// with their modes, as start would.
func (c *cli) check() int {
	l, code := c.validate()
	if code != 0 {
		return code
	}
	if err := l.prepareDirs(); err != nil {
		return c.fatalf(1, "%v", err)
	}
	return 0
}

// pidFile returns the path of master's pid file per main.cf.
func (c *cli) pidFile() (string, int) {
	cfg, err := config.Load(c.dir)
	if err != nil {
		return "", c.failure(err)
	}
	return pidPath(cfg.Get("queue_directory")), 0
}

func (c *cli) status() int {
	path, code := c.pidFile()
	if code != 0 {
		return code
	}
	pid, running, err := masterPID(path)
	switch {
	case err != nil:
		return c.fatalf(1, "%v", err)
	case !running:
		c.infof("the tern mail system is not running")
		return 1
	case pid == 0:
		c.infof("the tern mail system is starting")
		return 0
	}
	c.infof("the tern mail system is running: PID: %d", pid)
	return 0
}

func (c *cli) reload() int {
	if _, code := c.validate(); code != 0 {
		return code
	}
	return c.signal(syscall.SIGHUP, "refreshing")
}

// signal sends sig to the running master and, for SIGTERM and SIGINT,
// waits until it has released the pid file.
func (c *cli) signal(sig syscall.Signal, verb string) int {
	path, code := c.pidFile()
	if code != 0 {
		return code
	}
	pid, err := waitPID(path, startWait)
	if err != nil {
		return c.fatalf(1, "%v", err)
	}
	if pid == 0 {
		return c.fatalf(1, "the tern mail system is not running")
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return c.fatalf(1, "signal master pid %d: %v", pid, err)
	}
	c.infof("%s the tern mail system", verb)
	if sig == syscall.SIGHUP {
		return 0
	}
	if !pollUntil(stopWait, func() bool { _, running, _ := masterPID(path); return !running }) {
		return c.fatalf(1, "the tern mail system did not stop within %s", stopWait)
	}
	return 0
}

// waitPID returns the pid of the running master (0 if none), waiting a
// bounded time for a master that is still starting to write its pid.
func waitPID(path string, limit time.Duration) (int, error) {
	var pid int
	var running bool
	var err error
	pollUntil(limit, func() bool {
		pid, running, err = masterPID(path)
		return err != nil || !running || pid > 0
	})
	if err != nil {
		return 0, err
	}
	if running && pid == 0 {
		return 0, fmt.Errorf("master holds %s but wrote no pid within %s", path, limit)
	}
	return pid, nil
}

// pollUntil calls done until it returns true or limit passes.
func pollUntil(limit time.Duration, done func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if done() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollEvery)
	}
}

// foreground runs master in this process; notify (from `tern start`)
// learns whether it came up.
func (c *cli) foreground(notify *os.File) int {
	ready := c.opt.OnReady
	c.opt.OnReady = func() {
		if ready != nil {
			ready()
		}
		if notify != nil {
			_, _ = notify.WriteString(readyWord + "\n")
			_ = notify.Close()
			notify = nil
		}
	}
	err := Run(context.Background(), c.opt)
	if err == nil {
		return 0
	}
	if notify != nil {
		_, _ = notify.WriteString(errorText(err) + "\n")
		_ = notify.Close()
	}
	return c.failure(err)
}
