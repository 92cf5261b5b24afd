package master

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// chrootFiles are the files of /etc that a daemon chrooted into the queue
// directory (master.cf's chroot column, y for most services in Debian's
// stock master.cf) needs: those that Debian's Postfix copies there for
// host names, services and time zones, and passwd and group, which
// tern's daemons read for unix:passwd.byname (local_recipient_maps) where
// Postfix asks its proxymap outside the chroot. Without them smtpd named
// every client "unknown" and refused local users as unknown.
var chrootFiles = []string{"localtime", "services", "resolv.conf", "hosts", "host.conf",
	"nsswitch.conf", "nss_mdns.config", "passwd", "group"}

// syncChrootFiles copies chrootFiles from the directory etc into
// queueDir/etc when they differ (resolv.conf may change with the
// network), each by a rename of a whole new copy, mode 0644. A file the
// system lacks is skipped.
func syncChrootFiles(etc, queueDir string) error {
	dst := filepath.Join(queueDir, "etc")
	for _, name := range chrootFiles {
		data, err := os.ReadFile(filepath.Join(etc, name)) // through symlinks
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("chroot files: %w", err)
		}
		target := filepath.Join(dst, name)
		if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) {
			continue
		}
		if err := writeFileAtomic(target, data, 0o644); err != nil {
			return fmt.Errorf("chroot files: %w", err)
		}
	}
	return nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// directory, written and renamed over it.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp, mode)
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
