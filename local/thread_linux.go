//go:build linux

package local

import (
	"context"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// ThreadSpawner runs mailbox, Maildir and file deliveries inside the daemon
// on an operating-system thread whose effective uid, gid and groups are
// switched to the recipient's for the length of the job, as Postfix's
// local(8) does with seteuid: no process is started per delivery. Linux
// keeps credentials per thread; mailbox.AsThreadUser changes only the
// calling thread (the C library, and Go's syscall.Setuid, change all).
// No code but RunJob's own runs under the switched identity. Command
// deliveries run user-controlled programs and go to Exec, a child process
// with real (not only effective) ids.
type ThreadSpawner struct {
	Exec HelperSpawner
}

// Run implements HelperSpawner.
func (s *ThreadSpawner) Run(ctx context.Context, job Job, uid, gid int, body agent.Body) (agent.Result, error) {
	if job.Kind == KindCommand {
		return s.Exec.Run(ctx, job, uid, gid, body)
	}
	var res agent.Result
	err := asThreadUser(uid, gid, func() { res = RunJob(ctx, job, agent.Reader(body)) })
	return res, err
}

// asThreadUser runs fn on a fresh locked thread with effective ids
// uid/gid; see mailbox.AsThreadUser.
func asThreadUser(uid, gid int, fn func()) error { return mailbox.AsThreadUser(uid, gid, fn) }

// rootSpawner is the HelperSpawner of a daemon running as root.
func rootSpawner(exec HelperSpawner) HelperSpawner { return &ThreadSpawner{Exec: exec} }
