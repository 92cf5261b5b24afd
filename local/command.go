package local

import (
	"context"
	"io"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/command"
)

// runCommand pipes the message to /bin/sh -c job.Command (or the
// local_command_shell job.Shell with job.Command added), in its own
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
	argv := []string{"/bin/sh", "-c", job.Command}
	if len(job.Shell) > 0 {
		argv = append(slices.Clone(job.Shell), job.Command)
	}
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Env = job.Env
	cmd.Dir = "/"
	switch {
	case job.Dir != "":
		if !dirExists(job.Dir) {
			return agent.Deferf("4.3.0", "mail system configuration error: unable to change to command_execution_directory %s", job.Dir)
		}
		cmd.Dir = job.Dir
	case job.Home != "" && dirExists(job.Home):
		cmd.Dir = job.Home
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	out := &command.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return agent.Deferf("4.3.0", "Command failed: %v: %q", err, job.Command)
	}
	if err := cmd.Start(); err != nil {
		return command.StartFailure(err, job.Command)
	}
	wrote := make(chan error, 1)
	go func() {
		err := copyMessage(stdin, job, body, copyOpts{fromLine: true})
		stdin.Close()
		wrote <- err
	}()
	waitErr := cmd.Wait()
	writeErr := <-wrote
	return command.Result(ctx, cctx, job.Command, waitErr, writeErr, out.Text(), "delivered to command: "+job.Command)
}
