package master

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// owner is the mail_owner account that master hands directories and
// sockets to. When master does not run as root nothing is chowned and
// every daemon runs as the invoking user.
type owner struct {
	Name     string
	UID, GID int
	Root     bool // master runs as root: chown, TERN_USER and TERN_CHROOT apply
}

// lookupOwner resolves mail_owner; it is only needed (and only checked)
// when master runs as root.
func lookupOwner(name string, root bool) (owner, error) {
	o := owner{Name: name, Root: root}
	if !root {
		return o, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return o, fmt.Errorf("mail_owner %q: %w", name, err)
	}
	if o.UID, err = strconv.Atoi(u.Uid); err != nil {
		return o, fmt.Errorf("mail_owner %q: uid %q: %w", name, u.Uid, err)
	}
	if o.GID, err = strconv.Atoi(u.Gid); err != nil {
		return o, fmt.Errorf("mail_owner %q: gid %q: %w", name, u.Gid, err)
	}
	return o, nil
}

// chown gives path to mail_owner when running as root; otherwise a no-op.
func (o owner) chown(path string) error {
	if !o.Root {
		return nil
	}
	if err := os.Lchown(path, o.UID, o.GID); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}

// queueDirSpec is one directory master creates under queue_directory.
type queueDirSpec struct {
	Name      string // "" is queue_directory itself
	Mode      os.FileMode
	MailOwned bool // owned by mail_owner, otherwise by root
}

// queueDirs lists the directories of the queue and their modes:
//   - private/ (0700 mail_owner) holds the daemons' private sockets;
//   - public/ (0755 mail_owner) holds world-usable sockets. Postfix gives
//     it group postdrop so that only setgid postdrop programs reach it;
//     tern has no setgid programs, so the public sockets are 0666 and the
//     daemons authenticate callers with SO_PEERCRED instead;
//   - maildrop/ (1733: anyone may drop a file, nobody may list or remove
//     someone else's) takes submissions while the system is down;
//   - pid/ (0755 root) holds master.pid.
func queueDirs() []queueDirSpec {
	return []queueDirSpec{
		{Name: "", Mode: 0o755},
		{Name: "private", Mode: 0o700, MailOwned: true},
		{Name: "public", Mode: 0o755, MailOwned: true},
		{Name: "maildrop", Mode: os.ModeSticky | 0o733, MailOwned: true},
		{Name: "pid", Mode: 0o755},
		{Name: "content", Mode: 0o700, MailOwned: true}, // qmgr: message content above the inline limit
		{Name: "corrupt", Mode: 0o700, MailOwned: true}, // qmgr: unreadable maildrop files
		{Name: "etc", Mode: 0o755},                      // chrooted daemons' view of /etc (chrootfiles.go)
	}
}

// prepareDirs creates the queue directories and fixes their modes and,
// when root, their owners. As root it also creates an empty queue.db if
// there is none, and hands every other top-level directory (the daemons'
// spool directories) and the queue database files (queue.db*) to
// mail_owner; it does not descend into them.
func prepareDirs(queueDir string, o owner) error {
	if !filepath.IsAbs(queueDir) {
		return fmt.Errorf("queue_directory %q is not an absolute path", queueDir)
	}
	known := map[string]bool{}
	for _, d := range queueDirs() {
		known[d.Name] = true
		path := filepath.Join(queueDir, d.Name)
		if err := os.MkdirAll(path, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		if err := os.Chmod(path, d.Mode); err != nil {
			return fmt.Errorf("chmod %s: %w", path, err)
		}
		if !o.Root {
			continue
		}
		uid, gid := 0, 0
		if d.MailOwned {
			uid, gid = o.UID, o.GID
		}
		if err := os.Lchown(path, uid, gid); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	if !o.Root {
		return nil
	}
	if err := createQueueDB(queueDir); err != nil {
		return err
	}
	return chownQueueFiles(queueDir, known, o)
}

// prepareDirs creates the queue directories (prepareDirs) and
// data_directory.
func (l *loaded) prepareDirs() error {
	if err := prepareDirs(l.queueDir, l.owner); err != nil {
		return err
	}
	if l.owner.Root && l.chrooted() {
		if err := syncChrootFiles("/etc", l.queueDir); err != nil {
			return err
		}
	}
	return prepareDataDir(l.cfg.Get("data_directory"), l.owner)
}

// chrooted reports whether a planned daemon runs in the queue directory's
// chroot.
func (l *loaded) chrooted() bool {
	for _, p := range l.procs {
		if p.Chroot {
			return true
		}
	}
	return false
}

// prepareDataDir creates data_directory, where daemons keep files that
// are not mail (smtpd's postscreen_cache_map), mode 0700, and, as root,
// gives it to mail_owner, as Postfix's post-install does; an existing
// one keeps its mode. Its contents are left alone.
func prepareDataDir(dir string, o owner) error {
	if dir == "" {
		return nil
	}
	if !filepath.IsAbs(dir) {
		return fmt.Errorf("data_directory %q is not an absolute path", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return o.chown(dir)
}

// createQueueDB creates an empty queue.db when there is none: queue_directory
// belongs to root, so qmgr, running as mail_owner, could not create it.
func createQueueDB(queueDir string) error {
	path := filepath.Join(queueDir, "queue.db")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	return nil
}

func chownQueueFiles(queueDir string, skip map[string]bool, o owner) error {
	entries, err := os.ReadDir(queueDir)
	if err != nil {
		return fmt.Errorf("read %s: %w", queueDir, err)
	}
	for _, e := range entries {
		if skip[e.Name()] {
			continue
		}
		if e.IsDir() || (e.Type().IsRegular() && strings.HasPrefix(e.Name(), "queue.db")) {
			if err := o.chown(filepath.Join(queueDir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}
