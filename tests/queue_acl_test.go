package tests

import (
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAuthorizedQueueUsers: authorized_mailq_users and
// authorized_flush_users were known names that nothing read, so a list
// excluding a user did not keep them from listing or flushing the queue.
// A refused user now gets EX_NOPERM (77) and Postfix's reason from
// mailq and sendmail -q; other users and root are served.
func TestAuthorizedQueueUsers(t *testing.T) {
	if !isRoot() {
		t.Skip("running mailq as other users needs root")
	}
	in := newInstance(t, options{main: []string{
		"authorized_mailq_users = !usera, static:anyone",
		"authorized_flush_users = userb",
	}})
	in.start()
	tests := []struct {
		user string
		args []string
		want string // "" for success
	}{
		{"usera", []string{"-bp"}, "User usera("},
		{"userb", []string{"-bp"}, ""},
		{"root", []string{"-bp"}, ""},
		{"usera", []string{"-q"}, "is not allowed to flush the mail queue"},
		{"userb", []string{"-q"}, ""},
		{"root", []string{"-q"}, ""},
	}
	for _, tt := range tests {
		code, out := in.sendmailAs(t, tt.user, tt.args...)
		switch {
		case tt.want == "" && code != 0:
			t.Errorf("%s: sendmail %v: exit %d, %q; want success", tt.user, tt.args, code, out)
		case tt.want != "" && (code != 77 || !strings.Contains(out, tt.want)):
			t.Errorf("%s: sendmail %v: exit %d, %q; want 77 and %q", tt.user, tt.args, code, out, tt.want)
		}
	}
	in.waitLog("User usera(", 10*time.Second)
}

// sendmailAs runs the instance's sendmail as the named user and returns
// its exit status and output.
func (in *instance) sendmailAs(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("test user %s missing (run tests/setup-users.sh as root): %v", name, err)
	}
	cmd := in.command("sendmail", args...)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("sendmail as %s: %v", name, err)
	}
	return 0, string(out)
}
