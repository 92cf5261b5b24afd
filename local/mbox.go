package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

// deliverMbox appends the message to an mbox file under the configured
// locks; on failure the file is truncated back to its original size.
func deliverMbox(ctx context.Context, job Job, body io.Reader) agent.Result {
	fail := func(dsn, format string, args ...any) agent.Result {
		reason := fmt.Sprintf(format, args...)
		if job.Kind == KindFile {
			return resultFor(dsn, fmt.Sprintf("cannot append message to file %s: %s", job.Path, reason))
		}
		return resultFor(dsn, fmt.Sprintf("cannot update mailbox %s for user %s. %s", job.Path, job.User, reason))
	}
	if hasMethod(job.LockMethods, "dotlock") {
		unlock, err := dotLock(ctx, job)
		if err != nil {
			return fail("4.2.0", "unable to create lock file %s.lock: %s", job.Path, errnoText(err))
		}
		defer unlock()
	}
	f, err := openMailbox(job)
	if err != nil {
		return fail("4.2.0", "cannot open file: %s", errnoText(err))
	}
	defer f.Close()
	for _, m := range []string{"fcntl", "flock"} {
		if hasMethod(job.LockMethods, m) {
			if err := kernelLock(ctx, f, m, job); err != nil {
				return fail("4.2.0", "unable to lock for exclusive access: %s", errnoText(err))
			}
		}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fail("4.3.0", "seek: %s", errnoText(err))
	}
	lw := &limitWriter{w: f, max: -1}
	if job.SizeLimit > 0 {
		lw.max = max(job.SizeLimit-size, 0)
	}
	err = copyMessage(lw, job, body, copyOpts{fromLine: true, quote: true, blank: true})
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(size); terr != nil {
			err = errors.Join(err, terr)
		}
		var re errRead
		if errors.As(err, &re) {
			return fail("4.3.0", "%s", re.Error())
		}
		return fail(writeDSN(err), "error writing message: %s", errnoText(err))
	}
	if job.Kind == KindFile {
		return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to file: " + job.Path}
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to mailbox"}
}

func hasMethod(methods []string, m string) bool {
	for _, v := range methods {
		if strings.EqualFold(strings.TrimSpace(v), m) {
			return true
		}
	}
	return false
}

// openMailbox opens (creating with mode 0600 if needed) the mailbox for
// appending without following symlinks, and checks that it is a regular
// file with one link and, when job.OwnerUID >= 0, the right owner. A file
// created by root is given to OwnerUID/OwnerGID.
func openMailbox(job Job) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_APPEND | syscall.O_NOFOLLOW | syscall.O_NONBLOCK
	f, err := os.OpenFile(job.Path, flags|os.O_CREATE|os.O_EXCL, 0o600)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(job.Path, flags, 0)
	}
	if err != nil {
		return nil, err
	}
	if created && os.Geteuid() == 0 && job.OwnerUID >= 0 {
		if err := f.Chown(job.OwnerUID, job.OwnerGID); err != nil {
			f.Close()
			return nil, fmt.Errorf("chown %s: %w", job.Path, err)
		}
	}
	if err := checkMailbox(f, job); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkMailbox(f *os.File, job Job) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", job.Path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("file %s is not a regular file", job.Path)
	case !ok:
		return fmt.Errorf("stat %s: no owner information", job.Path)
	case st.Nlink != 1:
		return fmt.Errorf("file %s has too many hard links", job.Path)
	case job.OwnerUID >= 0 && int(st.Uid) != job.OwnerUID:
		return fmt.Errorf("file %s has bad owner uid %d, not %d", job.Path, st.Uid, job.OwnerUID)
	}
	return nil
}

// dotLock creates path.lock with O_EXCL, as mail readers expect, retrying
// LockAttempts times LockDelay apart; a lock file older than StaleLock is
// removed. It returns the function that removes the lock.
func dotLock(ctx context.Context, job Job) (func(), error) {
	lock := job.Path + ".lock"
	attempts := max(job.LockAttempts, 1)
	var err error
	for i := 0; i < attempts; i++ {
		var f *os.File
		f, err = os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			return func() { os.Remove(lock) }, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		if fi, serr := os.Stat(lock); serr == nil && job.StaleLock > 0 && time.Since(fi.ModTime()) >= job.StaleLock {
			os.Remove(lock)
			continue
		}
		if i+1 < attempts {
			if serr := sleepCtx(ctx, job.LockDelay); serr != nil {
				return nil, serr
			}
		}
	}
	return nil, err
}

// kernelLock takes an exclusive fcntl or flock lock on f, polling with a
// non-blocking request LockAttempts times LockDelay apart. The fcntl lock
// is an open file description lock where the system has them (Linux): it
// conflicts with the classic fcntl locks of mutt, mailx and Dovecot and,
// unlike them, also between goroutines of one process.
func kernelLock(ctx context.Context, f *os.File, method string, job Job) error {
	attempts := max(job.LockAttempts, 1)
	var err error
	for i := 0; i < attempts; i++ {
		if method == "flock" {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		} else {
			err = fcntlLock(f)
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("%s lock: %w", method, err)
		}
		if i+1 < attempts {
			if serr := sleepCtx(ctx, job.LockDelay); serr != nil {
				return serr
			}
		}
	}
	return fmt.Errorf("%s lock: %w", method, err)
}
