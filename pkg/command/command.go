// Package command holds what the delivery agents that run external
// commands share (local(8)'s |command deliveries, pipe(8)): the bounded
// capture of the command's output, and how its end becomes a delivery
// result, as Postfix's pipe_command decides it.
package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// MaxOutput bounds the command output kept for the bounce text.
const MaxOutput = 2048

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

// Output keeps the first Max bytes written to it (MaxOutput when zero)
// and discards the rest. It is safe for concurrent use, as a command's
// stdout and stderr may write at once.
type Output struct {
	Max int
	mu  sync.Mutex
	buf []byte
}

// Write implements io.Writer.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	limit := o.Max
	if limit <= 0 {
		limit = MaxOutput
	}
	if room := limit - len(o.buf); room > 0 {
		o.buf = append(o.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Text is the output on one line, as Postfix logs it.
func (o *Output) Text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || r == '\r' {
			return ' '
		}
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, string(o.buf))
	return strings.TrimSpace(s)
}

// Result maps a command's end to a delivery result, as Postfix's
// pipe_command: a time-out (cctx, the command's own context, expired)
// bounces, a signal defers, sysexits codes have their own DSN, other
// non-zero codes bounce; a failure to read the message defers. ctx is the
// delivery's context, label names the command in the texts, waitErr and
// writeErr are what running it and feeding it the message returned, and
// output is Output.Text. ok is the text of a success.
func Result(ctx, cctx context.Context, label string, waitErr, writeErr error, output, ok string) agent.Result {
	suffix := ""
	if output != "" {
		suffix = ". Command output: " + output
	}
	if ctx.Err() != nil {
		return agent.Deferf("4.3.0", "delivery interrupted: %v: %q", ctx.Err(), label)
	}
	if errors.Is(cctx.Err(), context.DeadlineExceeded) {
		return agent.Bouncef("5.3.0", "Command time limit exceeded: %q%s", label, suffix)
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		ws, isWait := ee.Sys().(syscall.WaitStatus)
		switch {
		case isWait && ws.Signaled():
			return agent.Deferf("4.3.0", "Command died with signal %d: %q%s", int(ws.Signal()), label, suffix)
		case isWait:
			if se, known := sysexits[ws.ExitStatus()]; known {
				return resultFor(se.dsn, se.text+suffix)
			}
			return agent.Bouncef("5.3.0", "Command died with status %d: %q%s", ws.ExitStatus(), label, suffix)
		}
	}
	if waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		return agent.Deferf("4.3.0", "Command failed: %v: %q", waitErr, label)
	}
	var re mailbox.ReadError
	if errors.As(writeErr, &re) {
		return agent.Deferf("4.3.0", "Command failed: %s: %q", re.Error(), label)
	}
	if writeErr != nil && !errors.Is(writeErr, syscall.EPIPE) && !errors.Is(writeErr, os.ErrClosed) {
		return agent.Deferf("4.3.0", "Command failed: %s: %q", mailbox.ErrnoText(writeErr), label)
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: ok}
}

// resultFor turns a DSN and text into a bounce (5.x.x) or deferral.
func resultFor(dsn, text string) agent.Result {
	if dsn[0] == '5' {
		return agent.Result{Status: agent.Bounce, DSN: dsn, Text: text}
	}
	return agent.Result{Status: agent.Defer, DSN: dsn, Text: text}
}

// StartFailure is the deferral when a command can't be started.
func StartFailure(err error, label string) agent.Result {
	return agent.Deferf("4.3.0", "Command failed: %s: %q", mailbox.ErrnoText(err), label)
}

// ExportedEnv expands export_environment for a command: NAME=value as
// written, NAME with its value from getenv (left out when unset).
func ExportedEnv(list []string, getenv func(string) string) []string {
	var env []string
	for _, item := range list {
		if strings.Contains(item, "=") {
			env = append(env, item)
		} else if v := getenv(item); v != "" {
			env = append(env, item+"="+v)
		}
	}
	return env
}

// ServiceTimeLimit is the time limit of a master.cf service's commands:
// <service>_time_limit when main.cf (or -o) sets it, else
// command_time_limit, as for Postfix's pipe(8) and spawn(8).
func ServiceTimeLimit(cfg *config.Config, service string) (time.Duration, error) {
	v, ok := cfg.Raw(service + "_time_limit")
	if !ok {
		return cfg.Duration("command_time_limit"), nil
	}
	d, err := config.ParseDuration(v, "s")
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s_time_limit = %s: need a time", service, v)
	}
	return d, nil
}
