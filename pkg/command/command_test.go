package command

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// run runs a shell command and returns its wait error.
func run(t *testing.T, script string) error {
	t.Helper()
	return exec.Command("/bin/sh", "-c", script).Run()
}

func TestResult(t *testing.T) {
	bg := context.Background()
	expired, cancel := context.WithTimeout(bg, time.Nanosecond)
	defer cancel()
	<-expired.Done()
	tests := []struct {
		name     string
		cctx     context.Context
		waitErr  error
		writeErr error
		status   agent.Status
		dsn      string
		text     string
	}{
		{"success", bg, nil, nil, agent.OK, "2.0.0", "done"},
		{"EX_TEMPFAIL defers", bg, run(t, "exit 75"), nil, agent.Defer, "4.3.0", "temporary failure. Command output: out"},
		{"EX_NOUSER bounces", bg, run(t, "exit 67"), nil, agent.Bounce, "5.1.1", "user unknown. Command output: out"},
		{"other status bounces", bg, run(t, "exit 3"), nil, agent.Bounce, "5.3.0", `Command died with status 3: "cmd". Command output: out`},
		{"signal defers", bg, run(t, "kill -9 $$"), nil, agent.Defer, "4.3.0", `Command died with signal 9: "cmd". Command output: out`},
		{"time limit bounces", expired, nil, nil, agent.Bounce, "5.3.0", `Command time limit exceeded: "cmd". Command output: out`},
		{"message read failure defers", bg, nil, mailbox.ReadError{Err: errors.New("disk")}, agent.Defer, "4.3.0", `Command failed: error reading message: disk: "cmd"`},
		{"command closed its input", bg, nil, syscall.EPIPE, agent.OK, "2.0.0", "done"},
	}
	for _, tt := range tests {
		r := Result(bg, tt.cctx, "cmd", tt.waitErr, tt.writeErr, "out", "done")
		if r.Status != tt.status || r.DSN != tt.dsn || r.Text != tt.text {
			t.Errorf("%s: %+v, want %v %s %q", tt.name, r, tt.status, tt.dsn, tt.text)
		}
	}
}

func TestOutput(t *testing.T) {
	o := &Output{Max: 10}
	o.Write([]byte("line one\nline two\n"))
	if got := o.Text(); got != "line one l" {
		t.Errorf("Text() = %q", got)
	}
	o = &Output{}
	o.Write([]byte(strings.Repeat("x", 3*MaxOutput) + "\x01"))
	if len(o.Text()) != MaxOutput {
		t.Errorf("default limit: %d bytes kept", len(o.Text()))
	}
}
