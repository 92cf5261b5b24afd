package local

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

// maxCommandOutput bounds the command output kept for the bounce text.
const maxCommandOutput = 2048

// sysexit is one sendmail-style exit status (sysexits.h) and how Postfix
// treats it.
type sysexit struct{ dsn, text string }

var sysexits = map[int]sysexit{
	64: {"5.3.0", "command line usage error"},
	65: {"5.6.0", "data format error"},
	66: {"5.3.0", "cannot open input"},
	67: {"5.1.1", "user unknown"},
	68: {"5.1.2", "host name unknown"},
	69: {"5.3.0", "service unavailable"},
	70: {"5.3.0", "internal software error"},
	71: {"4.3.0", "system resource problem"},
	72: {"5.3.0", "critical OS file missing"},
	73: {"5.2.0", "can't create user output file"},
	74: {"5.3.0", "input/output error"},
	75: {"4.3.0", "temporary failure"},
	76: {"5.5.0", "remote error in protocol"},
	77: {"5.7.0", "permission denied"},
	78: {"5.3.5", "local configuration error"},
}

// capWriter keeps the first max bytes written to it and discards the rest.
type capWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (c *capWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := c.max - len(c.buf); room > 0 {
		c.buf = append(c.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// text is the output on one line, as Postfix logs it.
func (c *capWriter) text() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, string(c.buf))
	return strings.TrimSpace(s)
}

// runCommand pipes the message to /bin/sh -c job.Command, in its own
// process group that is killed at the time limit. The input starts with
// the From_ line and the Return-Path, X-Original-To and Delivered-To
// headers, without ">From " quoting, as Postfix's local(8) writes it.
func runCommand(ctx context.Context, job Job, body io.Reader) agent.Result {
	limit := job.TimeLimit
	if limit <= 0 {
		limit = DefaultCommandTimeLimit
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(cctx, "/bin/sh", "-c", job.Command)
	cmd.Env = job.Env
	cmd.Dir = "/"
	if job.Home != "" && dirExists(job.Home) {
		cmd.Dir = job.Home
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out := &capWriter{max: maxCommandOutput}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return agent.Deferf("4.3.0", "Command failed: %v: %q", err, job.Command)
	}
	if err := cmd.Start(); err != nil {
		return agent.Deferf("4.3.0", "Command failed: %s: %q", errnoText(err), job.Command)
	}
	wrote := make(chan error, 1)
	go func() {
		err := copyMessage(stdin, job, body, copyOpts{fromLine: true})
		stdin.Close()
		wrote <- err
	}()
	waitErr := cmd.Wait()
	writeErr := <-wrote
	return commandResult(ctx, cctx, job.Command, waitErr, writeErr, out.text())
}

// commandResult maps a command's fate to a result, as Postfix's
// pipe_command: a time-out bounces, a signal defers, sysexits codes have
// their own DSN and other non-zero codes bounce.
func commandResult(ctx, cctx context.Context, command string, waitErr, writeErr error, output string) agent.Result {
	suffix := ""
	if output != "" {
		suffix = ". Command output: " + output
	}
	if ctx.Err() != nil {
		return agent.Deferf("4.3.0", "delivery interrupted: %v: %q", ctx.Err(), command)
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return agent.Bouncef("5.3.0", "Command time limit exceeded: %q%s", command, suffix)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		ws, ok := ee.Sys().(syscall.WaitStatus)
		switch {
		case ok && ws.Signaled():
			return agent.Deferf("4.3.0", "Command died with signal %d: %q%s", int(ws.Signal()), command, suffix)
		case ok:
			if se, known := sysexits[ws.ExitStatus()]; known {
				return resultFor(se.dsn, se.text+suffix)
			}
			return agent.Bouncef("5.3.0", "Command died with status %d: %q%s", ws.ExitStatus(), command, suffix)
		}
	}
	if waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return agent.Deferf("4.3.0", "Command failed: %v: %q", waitErr, command)
	}
	var re errRead
	if errors.As(writeErr, &re) {
		return agent.Deferf("4.3.0", "Command failed: %s: %q", re.Error(), command)
	}
	if writeErr != nil && !errors.Is(writeErr, syscall.EPIPE) && !errors.Is(writeErr, os.ErrClosed) {
		return agent.Deferf("4.3.0", "Command failed: %s: %q", errnoText(writeErr), command)
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to command: " + command}
}
