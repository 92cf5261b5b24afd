//go:build !linux

package mailbox

import (
	"io"
	"os"
	"syscall"
)

// fcntlLock tries once to lock the whole of f for writing.
func fcntlLock(f *os.File) error {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk)
}
