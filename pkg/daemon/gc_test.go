package daemon

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

func TestSetGCPercent(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	tests := []struct {
		gogc, mainCF string
		want         int
	}{
		{"", "", 200},
		{"", "tern_gc_percent = 150\n", 150},
		{"50", "tern_gc_percent = 150\n", 100}, // GOGC set: left to the runtime
	}
	for _, tt := range tests {
		t.Setenv("GOGC", tt.gogc)
		debug.SetGCPercent(100)
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		setGCPercent(cfg)
		if got := debug.SetGCPercent(100); got != tt.want {
			t.Errorf("GOGC=%q, %q: GC percent %d, want %d", tt.gogc, tt.mainCF, got, tt.want)
		}
	}
}
