//go:build linux

package mailbox

import (
	"fmt"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// AsThreadUser runs fn on a fresh locked thread with effective ids
// uid/gid (and the single group gid), as Postfix's delivery agents do
// with set_eugid; the calling process must be root. Linux keeps
// credentials per thread; the raw system calls below change only the
// calling thread (the C library, and Go's syscall.Setuid, change all).
// fn must not start goroutines that do file work: only fn's own thread
// runs under the switched identity. The real and saved ids stay root so
// the thread can switch back; a thread that cannot switch back is never reused: its goroutine
// exits still locked, and Go then ends the thread.
func AsThreadUser(uid, gid int, fn func()) error {
	groups, err := unix.Getgroups()
	if err != nil {
		return fmt.Errorf("getgroups: %w", err)
	}
	egid := unix.Getegid()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := setThreadIDs(uid, gid, []int{gid}); err != nil {
			if restoreThreadIDs(egid, groups) == nil {
				runtime.UnlockOSThread()
			}
			done <- fmt.Errorf("switch thread to uid %d gid %d: %w", uid, gid, err)
			return
		}
		fn()
		if err := restoreThreadIDs(egid, groups); err != nil {
			done <- fmt.Errorf("switch thread back to root: %w", err)
			return // the thread dies with this goroutine
		}
		runtime.UnlockOSThread()
		done <- nil
	}()
	return <-done
}

const keepID = ^uintptr(0) // -1: leave this id unchanged

// setThreadIDs sets the calling thread's groups, then effective gid, then
// effective uid (the order that still has the privilege for each step).
func setThreadIDs(uid, gid int, groups []int) error {
	if err := setThreadGroups(groups); err != nil {
		return err
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, keepID, uintptr(gid), keepID); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keepID, uintptr(uid), keepID); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	return nil
}

// restoreThreadIDs returns the thread to effective root, egid and groups.
func restoreThreadIDs(egid int, groups []int) error {
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, keepID, 0, keepID); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, keepID, uintptr(egid), keepID); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	return setThreadGroups(groups)
}

func setThreadGroups(groups []int) error {
	ids := make([]uint32, len(groups))
	for i, g := range groups {
		ids[i] = uint32(g)
	}
	var p unsafe.Pointer
	if len(ids) > 0 {
		p = unsafe.Pointer(&ids[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(ids)), uintptr(p), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	return nil
}
