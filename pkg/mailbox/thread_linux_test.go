//go:build linux

package mailbox

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tern-mta/tern/internal/testutil"
)

func TestAsThreadUser(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		dir     string
		wantErr string
	}{
		{"writable", dir, ""},
		{"root's directory", t.TempDir(), "permission denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(tc.dir, "m")
			var werr error
			var euid int
			if err := AsThreadUser(uid, gid, func() {
				euid = os.Geteuid()
				werr = DeliverMaildir(path+"/", Options{}, strings.NewReader("x\n"))
			}); err != nil {
				t.Fatal(err)
			}
			if euid != uid || os.Geteuid() != 0 {
				t.Fatalf("euid inside %d, after %d", euid, os.Geteuid())
			}
			if tc.wantErr != "" {
				if werr == nil || !strings.Contains(strings.ToLower(werr.Error()), tc.wantErr) {
					t.Fatalf("err = %v, want %q", werr, tc.wantErr)
				}
				return
			}
			if werr != nil {
				t.Fatal(werr)
			}
			fi, err := os.Stat(filepath.Join(path, "new"))
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || int(st.Gid) != gid {
				t.Fatalf("new/ owned by %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
			}
		})
	}
}
