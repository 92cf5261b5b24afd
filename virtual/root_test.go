//go:build linux

package virtual

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/agent"
)

func ownerOf(t *testing.T, path string) [2]int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return [2]int{int(st.Uid), int(st.Gid)}
}

// rootFixture is a fixture whose deliveries really switch credentials,
// with a base directory that uid/gid own and can reach.
func rootFixture(t *testing.T, uid, gid int) *fixture {
	t.Helper()
	ids := "static:" + strconv.Itoa(uid)
	fx := newFixture(t, "inline:{ a@example.com=example.com/a/, b@example.com=example.com/b, root@example.com=root-owned/m }",
		ids, "static:"+strconv.Itoa(gid))
	fx.cfg.RunAs = nil
	fx.cfg.StrictOwnership = true
	for _, d := range []string{filepath.Dir(fx.base), fx.base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(fx.base, uid, gid); err != nil {
		t.Fatal(err)
	}
	return fx
}

func TestDeliverAsUserWhenRoot(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	fx := rootFixture(t, uid, gid)
	rs := fx.deliver(testBody, "a@example.com", "b@example.com")
	for i, r := range rs {
		if r.Status != agent.OK {
			t.Fatalf("recipient %d: %+v", i, r)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("process lost root")
	}
	want := [2]int{uid, gid}
	md := filepath.Join(fx.base, "example.com", "a")
	paths := []string{filepath.Join(fx.base, "example.com"), md, filepath.Join(md, "cur"), filepath.Join(md, "new"),
		filepath.Join(md, "tmp"), filepath.Join(fx.base, "example.com", "b")}
	ents, err := os.ReadDir(filepath.Join(md, "new"))
	if err != nil || len(ents) != 1 {
		t.Fatalf("new/: %v %v", ents, err)
	}
	paths = append(paths, filepath.Join(md, "new", ents[0].Name()))
	for _, p := range paths {
		if got := ownerOf(t, p); got != want {
			t.Errorf("%s owned by %v, want %v", p, got, want)
		}
	}
}

func TestDeliverAsUserIsRefusedWhatTheUserCannotWrite(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	fx := rootFixture(t, uid, gid)
	root := filepath.Join(fx.base, "root-owned")
	if err := os.Mkdir(root, 0o755); err != nil { // root's, not writable by uid
		t.Fatal(err)
	}
	r := fx.deliver(testBody, "root@example.com")[0]
	if r.Status != agent.Defer || !strings.Contains(r.Text, "Permission denied") {
		t.Fatalf("result %+v, want a deferral for permission denied", r)
	}
	if _, err := os.Stat(filepath.Join(root, "m")); err == nil {
		t.Fatal("mailbox created in a directory the user cannot write")
	}
}

func TestStrictOwnershipDefersForeignMbox(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	fx := rootFixture(t, uid, gid)
	dir := filepath.Join(fx.base, "example.com")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	mbox := filepath.Join(dir, "b")
	if err := os.WriteFile(mbox, nil, 0o666); err != nil { // root's
		t.Fatal(err)
	}
	if err := os.Chmod(mbox, 0o666); err != nil {
		t.Fatal(err)
	}
	r := fx.deliver(testBody, "b@example.com")[0]
	if r.Status != agent.Defer || r.DSN != "4.2.0" || !strings.Contains(r.Text, "bad owner uid 0") {
		t.Fatalf("result %+v", r)
	}
}
