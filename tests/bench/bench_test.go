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

// TestBenchSmoke runs the whole bench with a few messages — tern and,
// when installed, Postfix — so that make test proves make bench works.
func TestBenchSmoke(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the bench runs as root (Postfix and the test user usera need it)")
	}
	if testing.Short() {
		t.Skip("starts mail systems")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tern")
	build := exec.Command("go", "build", "-o", bin, "github.com/tern-mta/tern/cmd/tern")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tern: %v\n%s", err, out)
	}
	// The instances' folders must be reachable by mail_owner and usera.
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cfg := config{messages: 20, concurrency: 4, latency: 5, runs: 1, tern: bin,
		postfixMail: "/usr/sbin/sendmail", stall: 20 * time.Second, tmpRoot: tmp}
	var out bytes.Buffer
	if _, err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("bench: %v\noutput so far:\n%s", err, out.String())
	}
	report := out.String()
	t.Log("\n" + report)
	want := []string{"sendmail injection rate", "sendmail latency, median", "queue+local delivery rate"}
	if ok, _ := postfixUsable(cfg.postfixMail); ok {
		want = append(want, "tern advantage", "postfix")
	}
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("bench left %s behind", filepath.Join(tmp, e.Name()))
	}
}
