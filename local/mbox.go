package local

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// deliverMbox appends the message to an mbox file under the configured
// locks with mailbox.AppendMbox; on failure the file is truncated back to
// its original size.
func deliverMbox(ctx context.Context, job Job, body io.Reader) agent.Result {
	o := mailbox.Options{
		Sender:       job.Sender,
		Prepend:      job.Prepend,
		SizeLimit:    job.SizeLimit,
		LockMethods:  job.LockMethods,
		LockAttempts: job.LockAttempts,
		LockDelay:    job.LockDelay,
		StaleLock:    job.StaleLock,
		OwnerUID:     job.OwnerUID,
		OwnerGID:     job.OwnerGID,
		Locks:        job.Locks,
	}
	if err := mailbox.AppendMbox(ctx, job.Path, o, body); err != nil {
		if job.Kind == KindFile {
			return mailboxResult(err, fmt.Sprintf("cannot append message to file %s: ", job.Path))
		}
		return mailboxResult(err, fmt.Sprintf("cannot update mailbox %s for user %s. ", job.Path, job.User))
	}
	if job.Kind == KindFile {
		return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to file: " + job.Path}
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to mailbox"}
}

// kernelLock takes an exclusive fcntl or flock lock on f as a delivery
// does; see mailbox.Lock.
func kernelLock(ctx context.Context, f *os.File, method string, job Job) error {
	return mailbox.Lock(ctx, f, method, job.LockAttempts, job.LockDelay)
}
