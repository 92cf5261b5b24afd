package mailbox

import (
	"io"
	"os"
	"syscall"
)

// fSetLkOFD is Linux's F_OFD_SETLK: a record lock owned by the open file
// description rather than by the process.
const fSetLkOFD = 37

// fcntlLock tries once to lock the whole of f for writing.
func fcntlLock(f *os.File) error {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	return syscall.FcntlFlock(f.Fd(), fSetLkOFD, &lk)
}
