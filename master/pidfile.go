package master

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrRunning is returned by Run when another master holds the pid file.
var ErrRunning = errors.New("the tern mail system is already running")

// pidPath is where master keeps its pid, as in Postfix.
func pidPath(queueDir string) string {
	return filepath.Join(queueDir, "pid", "master.pid")
}

// pidLock is master's pid file, held with an exclusive flock for master's
// whole life: the lock, not the file's existence, says master runs.
type pidLock struct {
	path string
	f    *os.File
}

// lockPID takes the pid file lock or fails with ErrRunning.
func lockPID(path string) (*pidLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrRunning
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("truncate %s: %w", path, err)
	}
	return &pidLock{path: path, f: f}, nil
}

// writePID records the pid: the sign that master is ready.
func (p *pidLock) writePID(pid int) error {
	if _, err := p.f.WriteAt([]byte(fmt.Sprintf("%10d\n", pid)), 0); err != nil {
		return fmt.Errorf("write %s: %w", p.path, err)
	}
	return nil
}

// release removes the pid file and then drops the lock.
func (p *pidLock) release() {
	_ = os.Remove(p.path)
	_ = p.f.Close()
}

// masterPID reports whether a master holds the pid file and, once it is
// ready, its pid (0 while it is still starting).
func masterPID(path string) (pid int, running bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err == nil {
		return 0, false, nil // nobody holds it: a stale file
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, false, fmt.Errorf("lock %s: %w", path, err)
	}
	buf := make([]byte, 32)
	n, _ := f.Read(buf)
	pid, _ = strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	return pid, true, nil
}
