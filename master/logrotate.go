package master

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rotateWait bounds the wait for the daemons to let go of a rotated log:
// a reload stops each daemon once it has finished what it was doing.
const rotateWait = 60 * time.Second

// logrotate implements `tern logrotate`, as `postfix logrotate`: it
// renames maillog_file to maillog_file.SUFFIX (maillog_file_rotate_suffix,
// a strftime format), has a running system reopen its log with a reload,
// waits until no process has the old file open, and compresses it with
// maillog_file_compressor. Nothing is compressed while a process could
// still write to it: log lines are not lost.
func (c *cli) logrotate() int {
	l, code := c.validate()
	if code != 0 {
		return code
	}
	file := strings.TrimSpace(l.cfg.Get("maillog_file"))
	switch {
	case file == "":
		return c.fatalf(1, "logrotate: maillog_file is empty: the log goes to syslog, whose own rotation applies")
	case strings.HasPrefix(filepath.Clean(file), "/dev/"):
		return c.fatalf(1, "logrotate: maillog_file %s is not a regular file", file)
	}
	suffix, err := strftime(l.cfg.Get("maillog_file_rotate_suffix"), time.Now())
	if err != nil {
		return c.fatalf(1, "logrotate: maillog_file_rotate_suffix: %v", err)
	}
	rotated := file + "." + suffix
	if _, err := os.Lstat(rotated); err == nil {
		return c.fatalf(1, "logrotate: %s already exists", rotated)
	}
	pid, code := c.runningMaster()
	if code != 0 {
		return code
	}
	if err := os.Rename(file, rotated); err != nil {
		return c.fatalf(1, "logrotate: %v", err)
	}
	if pid != 0 {
		// The daemons start anew with the log reopened.
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return c.fatalf(1, "logrotate: signal master pid %d: %v", pid, err)
		}
	}
	if !pollUntil(rotateWait, func() bool { return !openByAnyProcess(rotated) }) {
		return c.fatalf(1, "logrotate: %s is still open after %s; not compressed", rotated, rotateWait)
	}
	compressor := strings.TrimSpace(l.cfg.Get("maillog_file_compressor"))
	if compressor == "" {
		c.infof("log rotated to %s", rotated)
		return 0
	}
	var stderr bytes.Buffer
	cmd := exec.Command(compressor, rotated)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return c.fatalf(1, "logrotate: %s %s: %v: %s", compressor, rotated, err, strings.TrimSpace(stderr.String()))
	}
	c.infof("log rotated to %s, compressed with %s", rotated, compressor)
	return 0
}

// runningMaster returns the pid of the running master, 0 when none runs,
// after checking that this user may signal it.
func (c *cli) runningMaster() (int, int) {
	path, code := c.pidFile()
	if code != 0 {
		return 0, code
	}
	pid, running, err := masterPID(path)
	if err != nil {
		return 0, c.fatalf(1, "logrotate: %v", err)
	}
	if !running {
		return 0, 0
	}
	if err := syscall.Kill(pid, 0); err != nil {
		return 0, c.fatalf(1, "logrotate: master pid %d: %v", pid, err)
	}
	return pid, 0
}

// openByAnyProcess reports whether a process has path open, by the
// links in /proc/PID/fd (processes this user may not inspect are
// skipped; without /proc, after a second, nothing is).
func openByAnyProcess(path string) bool {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		time.Sleep(time.Second)
		return false
	}
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil {
			continue
		}
		dir := filepath.Join("/proc", p.Name(), "fd")
		fds, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == path {
				return true
			}
		}
	}
	return false
}

// strftime formats t by the conversions of format that Postfix's
// default and common rotation suffixes use.
func strftime(format string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			b.WriteByte(format[i])
			continue
		}
		if i++; i == len(format) {
			return "", errors.New("format ends in %")
		}
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("%%%c is not supported (%%Y %%y %%m %%d %%H %%M %%S %%j %%s %%F %%T %%%%)", format[i])
		}
	}
	s := b.String()
	if s == "" || strings.Contains(s, "/") {
		return "", fmt.Errorf("suffix %q is empty or names another folder", s)
	}
	return s, nil
}
