// Package mailbox writes messages into Unix mbox files and Maildirs, the
// way Postfix's local(8) and virtual(8) delivery agents do: mbox appends
// under dotlock/fcntl/flock locks and are truncated back on failure;
// Maildir messages are written to tmp/, synced and linked into new/. It
// also switches a locked OS thread to a user's credentials (AsThreadUser)
// so that a root daemon can write as the mailbox owner.
package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// Options describe one delivery.
type Options struct {
	Sender  string // envelope sender of the From_ line; "" = null sender
	Prepend string // header lines written first, each ending in "\n"
	// SizeLimit is the largest mbox file size after delivery, or the
	// largest Maildir message file; 0 = no limit.
	SizeLimit int64
	// Mbox locking: methods "dotlock", "fcntl", "flock" (as Postfix's
	// mailbox_delivery_lock), tries, the pause between tries, and the age
	// at which a dotlock file is taken as stale (0 = never).
	LockMethods  []string
	LockAttempts int
	LockDelay    time.Duration
	StaleLock    time.Duration
	// OwnerUID and OwnerGID: the owner an mbox file must have; a file that
	// root creates is given to them. -1 = any owner.
	OwnerUID, OwnerGID int
	// Locks, when set, orders this process's deliveries to one mbox
	// before the dot-lock is tried (see PathLocks).
	Locks *PathLocks
}

// Error is a failed delivery: an enhanced status code (4.x.x: try again,
// 5.x.x: give up) and the reason in Postfix's words.
type Error struct {
	DSN  string
	Text string
	Err  error // the underlying error, if any
}

func (e *Error) Error() string { return e.Text }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Permanent reports whether the failure is for good (a 5.x.x status).
func (e *Error) Permanent() bool { return e.DSN != "" && e.DSN[0] == '5' }

func newError(dsn string, err error, format string, args ...any) *Error {
	return &Error{DSN: dsn, Text: fmt.Sprintf(format, args...), Err: err}
}

// ErrTooLarge is the EFBIG that a write beyond the size limit fails with.
var ErrTooLarge = fmt.Errorf("size limit exceeded: %w", syscall.EFBIG)

// ReadError marks a failure to read the message content (not the
// mailbox's fault: always temporary).
type ReadError struct{ Err error }

func (e ReadError) Error() string { return "error reading message: " + e.Err.Error() }

// Unwrap returns the read error.
func (e ReadError) Unwrap() error { return e.Err }

// CopyOptions choose what Copy adds, as Postfix's MAIL_COPY_* flags.
type CopyOptions struct {
	Sender   string // for the From_ line; "" = MAILER-DAEMON
	Prepend  string // header lines written before the message
	FromLine bool   // a "From sender  date" envelope line first
	Quote    bool   // ">From " for lines that start with "From "
	Blank    bool   // an empty line after the message
}

// mailerDaemon is the From_ line's name for the null sender.
const mailerDaemon = "MAILER-DAEMON"

// Copy writes the prepended headers and the content to w with Unix line
// ends, ending the last line. A failure to read body is a ReadError.
func Copy(w io.Writer, body io.Reader, o CopyOptions) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if o.FromLine {
		sender := o.Sender
		if sender == "" {
			sender = mailerDaemon
		}
		bw.WriteString("From " + sender + "  " + time.Now().Format("Mon Jan _2 15:04:05 2006") + "\n")
	}
	bw.WriteString(o.Prepend)
	br := bufio.NewReaderSize(body, 64<<10)
	atStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart && o.Quote && bytes.HasPrefix(chunk, []byte("From ")) {
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
			return ReadError{err}
		}
	}
	if !atStart {
		bw.WriteByte('\n')
	}
	if o.Blank {
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// LimitWriter fails with ErrTooLarge instead of growing past a limit.
type LimitWriter struct {
	w   io.Writer
	max int64
}

// NewLimitWriter returns a writer to w that accepts at most max bytes;
// max < 0 means no limit.
func NewLimitWriter(w io.Writer, max int64) *LimitWriter { return &LimitWriter{w: w, max: max} }

// Write implements io.Writer: a write that would pass the limit writes
// nothing and fails.
func (l *LimitWriter) Write(p []byte) (int, error) {
	if l.max >= 0 && int64(len(p)) > l.max {
		return 0, ErrTooLarge
	}
	n, err := l.w.Write(p)
	if l.max >= 0 {
		l.max -= int64(n)
	}
	return n, err
}

// WriteDSN maps a write error to an enhanced status, as Postfix's
// mbox_dsn: a full mailbox (EFBIG, EDQUOT) is 5.2.2, anything else is
// temporary.
func WriteDSN(err error) string {
	if errors.Is(err, syscall.EFBIG) || errors.Is(err, syscall.EDQUOT) {
		return "5.2.2"
	}
	return "4.3.0"
}

// ErrnoText describes err the way strerror does ("No such file or
// directory"), falling back to err's own text.
func ErrnoText(err error) string {
	var en syscall.Errno
	if errors.Is(err, ErrTooLarge) {
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
