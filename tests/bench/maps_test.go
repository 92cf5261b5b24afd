package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMapData(t *testing.T) {
	src, queries := mapData(1000, 101)
	present := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(string(src), "\n"), "\n") {
		key, value, ok := strings.Cut(line, "\t")
		if !ok || value == "" || present[key] {
			t.Fatalf("bad or duplicate source line %q", line)
		}
		present[key] = true
	}
	if len(present) != 1000 {
		t.Errorf("%d keys, want 1000", len(present))
	}
	lines := strings.Split(strings.TrimSuffix(string(queries), "\n"), "\n")
	hits := 0
	for _, k := range lines {
		if present[k] {
			hits++
		}
	}
	if len(lines) != 101 || hits != 51 {
		t.Errorf("%d queries with %d present, want 101 with 51", len(lines), hits)
	}
	again, _ := mapData(1000, 101)
	if !bytes.Equal(src, again) {
		t.Error("mapData is not deterministic")
	}
}

func TestParseMapFlags(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
	}{
		{[]string{"-maps-only"}, true},
		{[]string{"-maps-only", "-maps-keys", "10", "-maps-queries", "5", "-maps-runs", "1"}, true},
		{[]string{"-maps-only", "-no-maps"}, false},
		{[]string{"-maps-only", "-smtp-only"}, false},
		{[]string{"-maps-only", "-maps-keys", "0"}, false},
		{[]string{"-maps-runs", "0"}, false},
		{[]string{"-no-maps"}, true},
	}
	for _, tt := range tests {
		if _, err := parseFlags(tt.args, &bytes.Buffer{}); (err == nil) != tt.ok {
			t.Errorf("parseFlags(%q) err = %v, want ok %v", tt.args, err, tt.ok)
		}
	}
}

// TestBenchMapsSmoke runs the map phase alone on a small table, tern and,
// when installed, postmap.
func TestBenchMapsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds tern")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tern")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/tern-mta/tern/cmd/tern").CombinedOutput(); err != nil {
		t.Fatalf("build tern: %v\n%s", err, out)
	}
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := config{tern: bin, tmpRoot: tmp, mapsOnly: true, mapsKeys: 2000, mapsQueries: 300, mapsRuns: 1,
		postmap: "/usr/sbin/postmap"}
	var out bytes.Buffer
	if _, err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("bench: %v\n%s", err, out.String())
	}
	want := []string{"hash: build", "hash: -q - batch lookups"}
	if ok, _ := postmapUsable(cfg); ok {
		want = append(want, "tern advantage", ">= 2x")
	}
	for _, w := range want {
		if !strings.Contains(out.String(), w) {
			t.Errorf("report lacks %q:\n%s", w, out.String())
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("bench left %d entries in %s", len(left), tmp)
	}
}
