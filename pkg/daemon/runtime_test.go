package daemon

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

func TestCPULimit(t *testing.T) {
	tests := []struct{ limit, ncpu, want int }{
		{0, 1, 1},
		{0, 2, 1},
		{0, 3, 1},
		{0, 8, 4},
		{-1, 8, 4},
		{3, 2, 3},
		{1, 64, 1},
	}
	for _, tt := range tests {
		if got := CPULimit(tt.limit, tt.ncpu); got != tt.want {
			t.Errorf("CPULimit(%d, %d) = %d, want %d", tt.limit, tt.ncpu, got, tt.want)
		}
	}
}

// TestRuntimeSettings: tern_gc_percent and tern_cpu_limit set the Go
// runtime's GC target and GOMAXPROCS, unless GOGC or GOMAXPROCS is in the
// environment.
func TestRuntimeSettings(t *testing.T) {
	origGC := debug.SetGCPercent(100)
	origProcs := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { debug.SetGCPercent(origGC); runtime.GOMAXPROCS(origProcs) })
	gc := func() int { p := debug.SetGCPercent(100); debug.SetGCPercent(p); return p }
	procs := func() int { return runtime.GOMAXPROCS(0) }
	tests := []struct {
		env, value, mainCF string
		apply              func(*config.Config)
		reset              func()
		read               func() int
		want               int
	}{
		{"GOGC", "", "", setGCPercent, func() { debug.SetGCPercent(100) }, gc, 200},
		{"GOGC", "", "tern_gc_percent = 150\n", setGCPercent, func() { debug.SetGCPercent(100) }, gc, 150},
		{"GOGC", "50", "tern_gc_percent = 150\n", setGCPercent, func() { debug.SetGCPercent(100) }, gc, 100},
		{"GOMAXPROCS", "", "", SetCPULimit, func() { runtime.GOMAXPROCS(7) }, procs, CPULimit(0, runtime.NumCPU())},
		{"GOMAXPROCS", "", "tern_cpu_limit = 3\n", SetCPULimit, func() { runtime.GOMAXPROCS(7) }, procs, 3},
		{"GOMAXPROCS", "5", "tern_cpu_limit = 3\n", SetCPULimit, func() { runtime.GOMAXPROCS(7) }, procs, 7},
	}
	for _, tt := range tests {
		t.Setenv(tt.env, tt.value)
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		tt.reset()
		tt.apply(cfg)
		if got := tt.read(); got != tt.want {
			t.Errorf("%s=%q, %q: %d, want %d", tt.env, tt.value, tt.mainCF, got, tt.want)
		}
	}
}
