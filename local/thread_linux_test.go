//go:build linux

package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/agent"
)

// openTempDir returns a temporary folder with mode that other users can
// reach (t.TempDir's parent is 0700).
func openTempDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func ownerOf(t *testing.T, path string) (int, int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func TestAsThreadUserCreatesFilesAsTheUserAndSwitchesBack(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	dir := openTempDir(t, 0o777)
	inside := filepath.Join(dir, "inside")
	err := asThreadUser(uid, gid, func() {
		if err := os.WriteFile(inside, []byte("x"), 0o600); err != nil {
			t.Error(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if u, g := ownerOf(t, inside); u != uid || g != gid {
		t.Errorf("file made under the switched thread is owned by %d:%d, want %d:%d", u, g, uid, gid)
	}
	// The rest of the process never lost root.
	after := filepath.Join(dir, "after")
	if err := os.WriteFile(after, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if u, _ := ownerOf(t, after); u != 0 {
		t.Errorf("file made after the switch is owned by uid %d, want root", u)
	}
}

func TestAsThreadUserIsDeniedWhatTheUserIsDenied(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	dir := openTempDir(t, 0o700) // owned by root
	var werr error
	if err := asThreadUser(uid, gid, func() {
		werr = os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o600)
	}); err != nil {
		t.Fatal(err)
	}
	if werr == nil {
		t.Error("a write into root's 0700 folder succeeded under the user's identity")
	}
}

func TestThreadSpawnerDeliversMboxAsTheUser(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	dir := openTempDir(t, 0o1777)
	mbox := filepath.Join(dir, "nobody")
	s := &ThreadSpawner{}
	job := Job{Kind: KindMbox, Path: mbox, Sender: "a@example.com", Recipient: "nobody@example.com",
		LockMethods: []string{"fcntl", "dotlock"}, OwnerUID: uid, OwnerGID: gid}
	res, err := s.Run(context.Background(), job, uid, gid, agent.NewMemBody([]byte("Subject: t\n\nbody\n")))
	if err != nil || res.Status != agent.OK {
		t.Fatalf("result %+v, err %v", res, err)
	}
	b, _ := os.ReadFile(mbox)
	if !strings.Contains(string(b), "\nbody\n") {
		t.Errorf("mbox:\n%s", b)
	}
	if u, _ := ownerOf(t, mbox); u != uid {
		t.Errorf("mbox owned by uid %d, want %d", u, uid)
	}
}
