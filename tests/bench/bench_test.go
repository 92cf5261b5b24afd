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

// TestBenchSmoke runs the core bench with a few messages — tern and,
// when installed, Postfix — so that make test proves make bench works.
func TestBenchSmoke(t *testing.T) {
	bin, tmp := smokeSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	cfg := config{messages: 20, concurrency: 4, latency: 5, runs: 1, tern: bin,
		postfixMail: "/usr/sbin/sendmail", stall: 20 * time.Second, tmpRoot: tmp, noSMTP: true}
	want := []string{"sendmail injection rate", "sendmail latency, median", "queue+local delivery rate"}
	if ok, _ := postfixUsable(cfg.postfixMail); ok {
		want = append(want, "tern advantage", "postfix")
	}
	smokeRun(ctx, t, cfg, want, []string{"SMTP intake 1 KB", "relay rate"})
}

// TestBenchSMTPSmoke runs the SMTP intake phase alone with a few
// messages at two concurrencies, tern and, when installed, Postfix.
func TestBenchSMTPSmoke(t *testing.T) {
	const source = "/usr/sbin/smtp-source"
	if _, err := os.Stat(source); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("smtp-source missing in CI (install Debian's postfix): %v", err)
		}
		t.Skipf("smtp-source missing (Debian package postfix): %v", err)
	}
	bin, tmp := smokeSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := config{messages: 2, concurrency: 1, latency: 1, runs: 1, tern: bin,
		postfixMail: "/usr/sbin/sendmail", stall: 20 * time.Second, tmpRoot: tmp,
		smtpOnly: true, smtpSource: source, smtpSessions: []int{1, 10}, smtpSmall: 20, smtpLarge: 10,
		smtpTimeout: 30 * time.Second}
	want := []string{"SMTP intake 1 KB, 1 session", "SMTP intake 1 KB, 10 sessions", "SMTP intake 100 KB, 10 sessions",
		"CPU per message 100 KB, 1 session"}
	if ok, _ := postfixUsable(cfg.postfixMail); ok {
		want = append(want, "tern advantage", ">= 3x")
	}
	smokeRun(ctx, t, cfg, want, []string{"sendmail injection rate", "relay rate"})
}

// TestBenchRelaySmoke runs the relay phase alone with a few messages at
// two concurrencies: smtp-source -> tern (and, when installed, Postfix)
// -> smtp-sink.
func TestBenchRelaySmoke(t *testing.T) {
	const source, sinkPath = "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"
	for _, p := range []string{source, sinkPath} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing in CI (install Debian's postfix): %v", p, err)
			}
			t.Skipf("%s missing (Debian package postfix): %v", p, err)
		}
	}
	bin, tmp := smokeSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := config{messages: 2, concurrency: 1, latency: 1, runs: 1, tern: bin,
		postfixMail: "/usr/sbin/sendmail", stall: 20 * time.Second, tmpRoot: tmp,
		relayOnly: true, smtpSource: source, smtpSink: sinkPath, relaySessions: []int{1, 10}, relayN: 20,
		smtpTimeout: 30 * time.Second}
	want := []string{"relay rate 1 KB, 1 session", "relay rate 1 KB, 10 sessions", "relay CPU per message 1 KB, 10 sessions",
		"relay bench: smtp-source"}
	if ok, _ := postfixUsable(cfg.postfixMail); ok {
		want = append(want, "tern advantage", ">= 3x")
	}
	smokeRun(ctx, t, cfg, want, []string{"sendmail injection rate", "SMTP intake 1 KB"})
}

// smokeSetup builds tern and makes a temporary root for the instances;
// it skips the test unless root and not -short.
func smokeSetup(t *testing.T) (bin, tmp string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the bench runs as root (Postfix and the test user usera need it)")
	}
	if testing.Short() {
		t.Skip("starts mail systems")
	}
	dir := t.TempDir()
	bin = filepath.Join(dir, "tern")
	build := exec.Command("go", "build", "-o", bin, "github.com/tern-mta/tern/cmd/tern")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build tern: %v\n%s", err, out)
	}
	// The sendmail binary beside it, as make build leaves them.
	build = exec.Command("go", "build", "-o", filepath.Join(filepath.Dir(bin), "sendmail"), "github.com/tern-mta/tern/cmd/sendmail")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build sendmail: %v\n%s", err, out)
	}
	// The instances' folders must be reachable by mail_owner and usera.
	tmp = filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin, tmp
}

// smokeRun runs the bench as cfg says and checks that the report has
// every string of want and none of unwanted, and that nothing is left
// behind in cfg.tmpRoot.
func smokeRun(ctx context.Context, t *testing.T, cfg config, want, unwanted []string) {
	t.Helper()
	var out bytes.Buffer
	if _, err := run(ctx, cfg, &out); err != nil {
		t.Fatalf("bench: %v\noutput so far:\n%s", err, out.String())
	}
	report := out.String()
	t.Log("\n" + report)
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("report lacks %q", w)
		}
	}
	for _, w := range unwanted {
		if strings.Contains(report, w) {
			t.Errorf("report has %q", w)
		}
	}
	tmp := cfg.tmpRoot
	left, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("bench left %s behind", filepath.Join(tmp, e.Name()))
	}
}
