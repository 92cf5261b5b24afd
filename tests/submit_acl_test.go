package tests

import (
	"strings"
	"testing"
)

// TestAuthorizedSubmitUsersSendmail: with authorized_submit_users
// excluding the caller, sendmail fails with EX_NOPERM (77) and says why,
// as Postfix's does, and nothing is delivered.
func TestAuthorizedSubmitUsersSendmail(t *testing.T) {
	me := currentUser(t)
	in := newInstance(t, options{master: testMasterCF, main: []string{"authorized_submit_users = !" + me.Username + ", static:all"}})
	in.start()
	code, out := in.sendmail("Subject: refused\n\nnever\n", localUser(t))
	if code != 77 || !strings.Contains(out, "is not allowed to submit mail") {
		t.Errorf("sendmail: exit %d, %q; want 77 and the reason", code, out)
	}
}
