package main

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want procStat
		ok   bool
	}{
		{"plain", "42 (tern) S 7 42 42 0 -1 4194560 100 0 0 0 3 2 1 4 20 0 1 0", procStat{ppid: 7, cpu: 100 * time.Millisecond}, true},
		{"spaces and parens in name", "9 (a) b (c)) R 1 9 9 0 -1 0 0 0 0 0 10 0 0 0 20", procStat{ppid: 1, cpu: 100 * time.Millisecond}, true},
		{"no name", "9 R 1", procStat{}, false},
		{"short", "9 (x) R 1 2 3", procStat{}, false},
		{"bad number", "9 (x) R 1 9 9 0 -1 0 0 0 0 0 a 0 0 0 20", procStat{}, false},
		{"negative", "9 (x) R 1 9 9 0 -1 0 0 0 0 0 -5 0 0 0 20", procStat{}, false},
	}
	for _, tt := range tests {
		got, err := parseProcStat([]byte(tt.in))
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("%s: parseProcStat = %+v, %v; want %+v, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestDescends(t *testing.T) {
	stats := map[int]procStat{10: {ppid: 1}, 11: {ppid: 10}, 12: {ppid: 11}, 20: {ppid: 1}, 30: {ppid: 31}, 31: {ppid: 30}}
	tests := []struct {
		pid  int
		want bool
	}{{10, true}, {11, true}, {12, true}, {20, false}, {1, false}, {99, false}, {30, false}}
	for _, tt := range tests {
		if got := descends(tt.pid, 10, stats); got != tt.want {
			t.Errorf("descends(%d, 10) = %v, want %v", tt.pid, got, tt.want)
		}
	}
}

func TestTreeCPUSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := treeCPU(os.Getpid()); err != nil {
		t.Errorf("treeCPU(self): %v", err)
	}
	if _, err := treeCPU(-5); err == nil {
		t.Error("treeCPU(-5) succeeded")
	}
}

func FuzzParseProcStat(f *testing.F) {
	f.Add("42 (tern) S 7 42 42 0 -1 4194560 100 0 0 0 3 2 1 4 20 0 1 0")
	f.Add("1 ()) R 0")
	f.Fuzz(func(t *testing.T, in string) {
		st, err := parseProcStat([]byte(in))
		if err == nil && st.cpu < 0 {
			t.Errorf("negative cpu %v from %q", st.cpu, in)
		}
	})
}
