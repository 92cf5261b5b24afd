package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc/PID/stat's times (USER_HZ, 100 on
// Linux on every architecture Go supports).
const clockTick = 10 * time.Millisecond

// childrenCPU returns the CPU time (user + system) of every descendant
// this process has waited for: with sendmail calls, sendmail itself and
// whatever it waited for (Postfix's postdrop).
func childrenCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// maxTicks bounds each CPU time field (about 348 years) so that sums
// cannot overflow.
const maxTicks = 1 << 40

// procStat is what the bench needs from /proc/PID/stat.
type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime + cutime + cstime
}

// parseProcStat reads the fields after the command name (which may hold
// spaces and parentheses, hence the last ')').
func parseProcStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("no command name in %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is the state (field 3); ppid is field 4, utime..cstime 14..17.
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("short stat line %q", b)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("ppid %q: %w", f[1], err)
	}
	var ticks int64
	for _, s := range f[11:15] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 || v > maxTicks {
			return procStat{}, fmt.Errorf("cpu time %q in stat line", s)
		}
		ticks += v
	}
	return procStat{ppid: ppid, cpu: time.Duration(ticks) * clockTick}, nil
}

// treeCPU returns the CPU time used so far by process root and all its
// descendants, the running ones and those already reaped.
func treeCPU(root int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("read /proc: %w", err)
	}
	stats := map[int]procStat{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if st, err := parseProcStat(b); err == nil {
			stats[pid] = st
		}
	}
	if _, ok := stats[root]; !ok {
		return 0, fmt.Errorf("process %d not found", root)
	}
	var total time.Duration
	for pid, st := range stats {
		if descends(pid, root, stats) {
			total += st.cpu
		}
	}
	return total, nil
}

// descends reports whether pid is root or one of its descendants.
func descends(pid, root int, stats map[int]procStat) bool {
	for range len(stats) + 1 {
		if pid == root {
			return true
		}
		st, ok := stats[pid]
		if !ok || pid <= 1 {
			return false
		}
		pid = st.ppid
	}
	return false
}

// loadAverage returns the 1-minute load average (-1 if unknown).
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
