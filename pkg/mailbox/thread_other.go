//go:build !linux

package mailbox

import (
	"errors"
	"os"
)

// ErrNoThreadCredentials is AsThreadUser's error where the system keeps
// credentials per process, not per thread.
var ErrNoThreadCredentials = errors.New("per-thread credentials are not supported on this system")

// AsThreadUser runs fn directly when uid and gid are the process's own
// effective ids; any other identity needs per-thread credentials, which
// this system lacks.
func AsThreadUser(uid, gid int, fn func()) error {
	if uid == os.Geteuid() && gid == os.Getegid() {
		fn()
		return nil
	}
	return ErrNoThreadCredentials
}
