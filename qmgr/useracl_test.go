package qmgr

import (
	"os/user"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/ipc"
)

func TestUserACL(t *testing.T) {
	tests := []struct {
		list  string
		allow map[string]bool
	}{
		{"static:anyone", map[string]bool{"root": true, "www-data": true}},
		{"root, !static:all", map[string]bool{"root": true, "www-data": false}},
		{"!www-data, static:all", map[string]bool{"root": true, "www-data": false, "bob": true}},
		{"alice bob", map[string]bool{"alice": true, "bob": true, "carol": false}},
		{"inline:{ alice=ok }, !static:all", map[string]bool{"alice": true, "bob": false}},
	}
	for _, tt := range tests {
		acl, err := parseUserACL("authorized_submit_users", tt.list)
		if err != nil {
			t.Fatal(err)
		}
		for u, want := range tt.allow {
			if got, err := acl.allows(u); got != want || err != nil {
				t.Errorf("%q: allows(%s) = %v, %v; want %v", tt.list, u, got, err, want)
			}
		}
	}
	if _, err := parseUserACL("authorized_submit_users", "nosuchtype:x"); err == nil {
		t.Error("an unknown table type was accepted")
	}
}

// TestAuthorizedSubmitUsers: authorized_submit_users was a known name
// nothing read, so "!www-data, static:all" let www-data submit. A
// refused submitter now gets EX_NOPERM (77) and 5.7.1, as from Postfix's
// sendmail, with a warning in the log.
func TestAuthorizedSubmitUsers(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	h := newMTA(t, "authorized_submit_users = !"+me.Username+", static:all\n", nil)
	req := append(ipc.Record{{Name: "request", Value: "submit"}}, rcpts("joe@example.com")...)
	reply, c := h.call("pickup", req, []byte("Subject: refused\n\nx\n"))
	c.Close()
	if reply.Get("status") == "ok" || reply.Get("code") != "77" || reply.Get("dsn") != "5.7.1" ||
		!strings.Contains(reply.Get("text"), "is not allowed to submit mail") {
		t.Errorf("refused submitter: %v", reply)
	}
	h.waitLog("User " + me.Username + "(")
}
