package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

// Job kinds.
const (
	KindMbox    = "mbox"    // append to a mailbox in mbox format
	KindMaildir = "maildir" // a new message in a Maildir
	KindCommand = "command" // pipe to /bin/sh -c Command
	KindFile    = "file"    // append to a file in mbox format
)

// Job is one delivery, serialisable so that a helper process running as
// the target user can execute it.
type Job struct {
	Kind      string   // KindMbox, KindMaildir, KindCommand or KindFile
	Path      string   // mailbox, file or Maildir (ending in "/")
	Command   string   // the shell command of KindCommand
	Env       []string // the command's environment
	Sender    string   // envelope sender, "" for <>
	Recipient string   // the address delivered to
	User      string   // whose mailbox or privileges, for messages
	Prepend   string   // header lines to prepend, each ending in "\n"
	Home      string   // the command's working directory when it exists
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

// errTooLarge is the EFBIG a write beyond the size limit fails with.
var errTooLarge = fmt.Errorf("size limit exceeded: %w", syscall.EFBIG)

// errRead marks failures to read the message content.
type errRead struct{ err error }

func (e errRead) Error() string { return "error reading message: " + e.err.Error() }
func (e errRead) Unwrap() error { return e.err }

// copyOpts chooses what copyMessage adds, as Postfix's MAIL_COPY_* flags.
type copyOpts struct {
	fromLine bool // a "From sender  date" envelope line first
	quote    bool // ">From " for body lines that start with "From "
	blank    bool // an empty line after the message
}

// mailerDaemon is the From_ line's name for the null sender.
const mailerDaemon = "MAILER-DAEMON"

// copyMessage writes the job's headers and the content to w with Unix line
// ends.
func copyMessage(w io.Writer, job Job, body io.Reader, o copyOpts) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if o.fromLine {
		sender := job.Sender
		if sender == "" {
			sender = mailerDaemon
		}
		bw.WriteString("From " + sender + "  " + time.Now().Format("Mon Jan _2 15:04:05 2006") + "\n")
	}
	bw.WriteString(job.Prepend)
	br := bufio.NewReaderSize(body, 64<<10)
	atStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart && o.quote && bytes.HasPrefix(chunk, []byte("From ")) {
				bw.WriteByte('>')
			}
			atStart = chunk[len(chunk)-1] == '\n'
			if atStart && len(chunk) >= 2 && chunk[len(chunk)-2] == '\r' {
				bw.Write(chunk[:len(chunk)-2])
				bw.WriteByte('\n')
			} else {
				bw.Write(chunk)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errRead{err}
		}
	}
	if !atStart {
		bw.WriteByte('\n')
	}
	if o.blank {
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// limitWriter fails with errTooLarge instead of growing past max bytes;
// max < 0 means no limit.
type limitWriter struct {
	w   io.Writer
	max int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.max >= 0 && int64(len(p)) > l.max {
		return 0, errTooLarge
	}
	n, err := l.w.Write(p)
	if l.max >= 0 {
		l.max -= int64(n)
	}
	return n, err
}

// writeDSN maps a write error to an enhanced status, as Postfix's
// mbox_dsn: a full mailbox (EFBIG, EDQUOT) is 5.2.2, anything else is
// temporary.
func writeDSN(err error) string {
	if errors.Is(err, syscall.EFBIG) || errors.Is(err, syscall.EDQUOT) {
		return "5.2.2"
	}
	return "4.3.0"
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
func errnoText(err error) string {
	var en syscall.Errno
	if errors.Is(err, errTooLarge) {
		en = syscall.EFBIG
	} else if !errors.As(err, &en) {
		return err.Error()
	}
	s := en.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
