package daemon

import (
	"runtime"
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

func TestSetCPULimit(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	half := CPULimit(0, runtime.NumCPU())
	tests := []struct {
		env, mainCF string
		want        int
	}{
		{"", "", half},
		{"", "tern_cpu_limit = 3\n", 3},
		{"5", "tern_cpu_limit = 3\n", 7}, // GOMAXPROCS set: left to the runtime
	}
	for _, tt := range tests {
		t.Setenv("GOMAXPROCS", tt.env)
		runtime.GOMAXPROCS(7)
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		SetCPULimit(cfg)
		if got := runtime.GOMAXPROCS(0); got != tt.want {
			t.Errorf("GOMAXPROCS=%q, %q: %d, want %d", tt.env, tt.mainCF, got, tt.want)
		}
	}
}
