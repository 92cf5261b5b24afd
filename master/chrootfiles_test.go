package master

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSyncChrootFiles: the files are copied through symlinks, left alone
// when unchanged, replaced when the system's copy changes, and skipped
// when the system has none.
func TestSyncChrootFiles(t *testing.T) {
	etc, queue := t.TempDir(), t.TempDir()
	if err := os.Mkdir(filepath.Join(queue, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(etc, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hosts", "127.0.0.1 localhost\n")
	write("stub-resolv.conf", "nameserver 127.0.0.53\n")
	if err := os.Symlink(filepath.Join(etc, "stub-resolv.conf"), filepath.Join(etc, "resolv.conf")); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(queue, "etc", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := syncChrootFiles(etc, queue); err != nil {
		t.Fatal(err)
	}
	if read("hosts") != "127.0.0.1 localhost\n" || read("resolv.conf") != "nameserver 127.0.0.53\n" {
		t.Errorf("copies: %q %q", read("hosts"), read("resolv.conf"))
	}
	if fi, err := os.Lstat(filepath.Join(queue, "etc", "resolv.conf")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Errorf("resolv.conf in the jail is %v, %v; want a regular 0644 file", fi, err)
	}
	if _, err := os.Stat(filepath.Join(queue, "etc", "passwd")); err == nil {
		t.Error("a file the system lacks was created")
	}
	before, _ := os.Stat(filepath.Join(queue, "etc", "hosts"))
	write("stub-resolv.conf", "nameserver 192.0.2.53\n")
	if err := syncChrootFiles(etc, queue); err != nil {
		t.Fatal(err)
	}
	if read("resolv.conf") != "nameserver 192.0.2.53\n" {
		t.Errorf("changed resolv.conf not copied: %q", read("resolv.conf"))
	}
	if after, _ := os.Stat(filepath.Join(queue, "etc", "hosts")); !os.SameFile(before, after) {
		t.Error("an unchanged file was written again")
	}
}
