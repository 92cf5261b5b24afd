package testutil

import (
	"os"
	"os/user"
	"strconv"
	"testing"
)

// Nobody returns the ids of the user "nobody", for tests that act as
// another user. It skips the test unless it runs as root and the user
// exists.
func Nobody(t testing.TB) (uid, gid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("acting as another user needs root")
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		t.Skip(err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid
}
