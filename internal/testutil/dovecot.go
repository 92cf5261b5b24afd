package testutil

import (
	"fmt"
	"os"
	"os/user"
	"testing"
)

// DovecotOwnerSettings returns the dovecot.conf lines that let a test
// instance of Dovecot run without root: every Dovecot process, and the
// group of its internal sockets, is then the test's own user's, and anvil
// (which counts failed logins) does not chroot. As root it returns
// nothing, and Dovecot uses its system users.
func DovecotOwnerSettings(t testing.TB) string {
	t.Helper()
	if os.Geteuid() == 0 {
		return ""
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("current user: %v", err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatalf("group %s of %s: %v", u.Gid, u.Username, err)
	}
	return fmt.Sprintf("default_internal_user = %s\ndefault_internal_group = %s\ndefault_login_user = %s\n"+
		"service anvil {\n  chroot =\n}\n", u.Username, g.Name, u.Username)
}
