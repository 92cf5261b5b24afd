package local

import (
	"context"
	"io"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// Job kinds.
const (
	KindMbox    = "mbox"    // append to a mailbox in mbox format
	KindMaildir = "maildir" // a new message in a Maildir
	KindCommand = "command" // pipe to /bin/sh -c Command, or Shell
	KindFile    = "file"    // append to a file in mbox format
)

// Job is one delivery, serialisable so that a helper process running as
// the target user can execute it.
type Job struct {
	Kind    string // KindMbox, KindMaildir, KindCommand or KindFile
	Path    string // mailbox, file or Maildir (ending in "/")
	Command string // the shell command of KindCommand
	// Shell runs Command: the program and its arguments, Command being
	// added as the last (local_command_shell); nil means /bin/sh -c.
	Shell     []string
	Env       []string // the command's environment
	Sender    string   // envelope sender, "" for <>
	Recipient string   // the address delivered to
	User      string   // whose mailbox or privileges, for messages
	Prepend   string   // header lines to prepend, each ending in "\n"
	Home      string   // the command's working directory when it exists
	// Dir, when set, is the command's working directory, which must exist
	// (command_execution_directory); it takes the place of Home.
	Dir string
	// Mailbox locking: mailbox_delivery_lock methods, deliver_lock_attempts,
	// deliver_lock_delay and stale_lock_time.
	LockMethods  []string
	LockAttempts int
	LockDelay    time.Duration
	StaleLock    time.Duration
	SizeLimit    int64         // largest file size after delivery; 0 = none
	TimeLimit    time.Duration // command time limit; 0 = the default
	// OwnerUID and OwnerGID: the owner a mailbox must have; a mailbox that
	// a root helper creates is given to them. -1 = any owner.
	OwnerUID, OwnerGID int
	// Locks orders the agent's own deliveries to one mbox or file; a job
	// run by a helper process has none (the dot-lock still applies).
	Locks *mailbox.PathLocks `json:"-"`
}

// RunJob executes a job in the current process, with the current
// privileges, reading the message content from body. It is used both
// in-process and by the helper child.
func RunJob(ctx context.Context, job Job, body io.Reader) agent.Result {
	switch job.Kind {
	case KindMbox, KindFile:
		return deliverMbox(ctx, job, body)
	case KindMaildir:
		return deliverMaildir(job, body)
	case KindCommand:
		return runCommand(ctx, job, body)
	}
	return agent.Deferf("4.3.5", "mail system configuration error: unknown delivery job kind %q", job.Kind)
}

// copyOpts chooses what copyMessage adds, as Postfix's MAIL_COPY_* flags.
type copyOpts struct {
	fromLine bool // a "From sender  date" envelope line first
	quote    bool // ">From " for body lines that start with "From "
	blank    bool // an empty line after the message
}

// copyMessage writes the job's headers and the content to w with Unix line
// ends.
func copyMessage(w io.Writer, job Job, body io.Reader, o copyOpts) error {
	return mailbox.Copy(w, body, mailbox.CopyOptions{Sender: job.Sender, Prepend: job.Prepend,
		FromLine: o.fromLine, Quote: o.quote, Blank: o.blank})
}

// resultFor turns a DSN and text into a result.
func resultFor(dsn, text string) agent.Result {
	if dsn[0] == '5' {
		return agent.Result{Status: agent.Bounce, DSN: dsn, Text: text}
	}
	return agent.Result{Status: agent.Defer, DSN: dsn, Text: text}
}

// errnoText describes err the way strerror does ("No such file or
// directory"), falling back to err's own text.
func errnoText(err error) string { return mailbox.ErrnoText(err) }
