package mailbox

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
)

// AppendMbox appends the message to the mbox file path (creating it with
// mode 0600) under the locks that o names: a "From " line, o.Prepend, the
// content with ">From " quoting and an empty line. On failure the file is
// truncated back to its original size and the *Error's text is the reason
// without the mailbox name (the caller says which mailbox).
func AppendMbox(ctx context.Context, path string, o Options, body io.Reader) error {
	if o.Locks != nil {
		unlock, err := o.Locks.Lock(ctx, path)
		if err != nil {
			return newError("4.2.0", err, "unable to lock for exclusive access: %s", ErrnoText(err))
		}
		defer unlock()
	}
	if hasMethod(o.LockMethods, "dotlock") {
		unlock, err := dotLock(ctx, path, o)
		if err != nil {
			return newError("4.2.0", err, "unable to create lock file %s.lock: %s", path, ErrnoText(err))
		}
		defer unlock()
	}
	f, err := openMbox(path, o)
	if err != nil {
		return newError("4.2.0", err, "cannot open file: %s", ErrnoText(err))
	}
	defer f.Close()
	for _, m := range []string{"fcntl", "flock"} {
		if hasMethod(o.LockMethods, m) {
			if err := Lock(ctx, f, m, o.LockAttempts, o.LockDelay); err != nil {
				return newError("4.2.0", err, "unable to lock for exclusive access: %s", ErrnoText(err))
			}
		}
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return newError("4.3.0", err, "seek: %s", ErrnoText(err))
	}
	limit := int64(-1)
	if o.SizeLimit > 0 {
		limit = max(o.SizeLimit-size, 0)
	}
	copts := CopyOptions{Sender: o.Sender, Prepend: o.Prepend, FromLine: true, Quote: true, Blank: true}
	err = Copy(NewLimitWriter(f, limit), body, copts)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if terr := f.Truncate(size); terr != nil {
			err = errors.Join(err, terr)
		}
		var re ReadError
		if errors.As(err, &re) {
			return newError("4.3.0", err, "%s", re.Error())
		}
		return newError(WriteDSN(err), err, "error writing message: %s", ErrnoText(err))
	}
	return nil
}

func hasMethod(methods []string, m string) bool {
	for _, v := range methods {
		if strings.EqualFold(strings.TrimSpace(v), m) {
			return true
		}
	}
	return false
}

// openMbox opens (creating with mode 0600 if needed) the mailbox for
// appending without following symlinks, and checks that it is a regular
// file with one link and, when o.OwnerUID >= 0, the right owner. A file
// created by root is given to OwnerUID/OwnerGID.
func openMbox(path string, o Options) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_APPEND | syscall.O_NOFOLLOW | syscall.O_NONBLOCK
	f, err := os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, 0o600)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, flags, 0)
	}
	if err != nil {
		return nil, err
	}
	if created && os.Geteuid() == 0 && o.OwnerUID >= 0 {
		if err := f.Chown(o.OwnerUID, o.OwnerGID); err != nil {
			f.Close()
			return nil, fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if err := checkMbox(f, path, o.OwnerUID); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkMbox(f *os.File, path string, owner int) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("file %s is not a regular file", path)
	case !ok:
		return fmt.Errorf("stat %s: no owner information", path)
	case st.Nlink != 1:
		return fmt.Errorf("file %s has too many hard links", path)
	case owner >= 0 && int(st.Uid) != owner:
		return fmt.Errorf("file %s has bad owner uid %d, not %d", path, st.Uid, owner)
	}
	return nil
}

// dotLock creates path.lock with O_EXCL, as mail readers expect, retrying
// LockAttempts times LockDelay apart; a lock file older than StaleLock is
// removed. It returns the function that removes the lock.
func dotLock(ctx context.Context, path string, o Options) (func(), error) {
	lock := path + ".lock"
	attempts := max(o.LockAttempts, 1)
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
		if fi, serr := os.Stat(lock); serr == nil && o.StaleLock > 0 && time.Since(fi.ModTime()) >= o.StaleLock {
			os.Remove(lock)
			continue
		}
		if i+1 < attempts {
			if serr := sleepCtx(ctx, o.LockDelay); serr != nil {
				return nil, serr
			}
		}
	}
	return nil, err
}

// Lock takes an exclusive "fcntl" or "flock" lock on f, polling with a
// non-blocking request attempts times delay apart. The fcntl lock is an
// open file description lock where the system has them (Linux): it
// conflicts with the classic fcntl locks of mutt, mailx and Dovecot and,
// unlike them, also between goroutines of one process.
func Lock(ctx context.Context, f *os.File, method string, attempts int, delay time.Duration) error {
	attempts = max(attempts, 1)
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
			if serr := sleepCtx(ctx, delay); serr != nil {
				return serr
			}
		}
	}
	return fmt.Errorf("%s lock: %w", method, err)
}
