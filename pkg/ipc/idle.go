package ipc

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// Idle reports whether the connection is still open with nothing waiting
// to be read, without blocking: a kept connection whose peer has closed
// it since (a restarted qmgr) reads end of file, and one with unread
// bytes is out of step. It lets a client write its next request without
// flushing it at once, knowing the peer is there.
func (c *Conn) Idle() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	sc, ok := c.c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	idle := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, rerr := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		idle = n < 0 && errors.Is(rerr, unix.EAGAIN)
		return true // never wait
	})
	return err == nil && idle
}
