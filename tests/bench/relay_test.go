package main

import (
	"bytes"
	"context"
	"errors"
	"net/smtp"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestParseSinkStatus(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"sess=0 quit=0 mesg=1", 1, true},
		{"sess=20 quit=20 mesg=2000", 2000, true},
		{"mesg=7", 7, true},
		{"sess=3 quit=3", 0, false},
		{"sess=3 quit=3 mesg=", 0, false},
		{"sess=3 quit=3 mesg=x", 0, false},
		{"sess=3 quit=3 mesg=-1", 0, false},
		{"sess=3 quit=3 mesg=1234567890123", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseSinkStatus([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseSinkStatus(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSinkCounter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   int
	}{
		{"none", nil, 0},
		{"whole lines", []string{"sess=0 quit=0 mesg=1\rsess=1 quit=1 mesg=1\rsess=1 quit=1 mesg=2\r"}, 2},
		{"split line", []string{"sess=0 quit=0 mesg=1\rsess=0 quit=0 me", "sg=2\r"}, 2},
		{"unfinished line not counted", []string{"sess=0 quit=0 mesg=1\rsess=0 quit=0 mesg=2"}, 1},
		{"newline ends a line too", []string{"sess=0 quit=0 mesg=3\n"}, 3},
		{"never goes down", []string{"mesg=5\rmesg=4\r"}, 5},
		{"garbage ignored", []string{"warning: something\rmesg=2\r\x00\xff\r"}, 2},
	}
	for _, tt := range tests {
		var c sinkCounter
		for _, w := range tt.writes {
			if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
				t.Errorf("%s: Write = %d, %v", tt.name, n, err)
			}
		}
		got, at := c.messages()
		if got != tt.want || (got > 0) == at.IsZero() {
			t.Errorf("%s: messages = %d, %v; want %d and a time when > 0", tt.name, got, at, tt.want)
		}
	}
}

// The time is that of the write that made the count grow, not of later
// status lines (a session's end, a QUIT).
func TestSinkCounterTime(t *testing.T) {
	var c sinkCounter
	c.Write([]byte("sess=0 quit=0 mesg=1\r"))
	_, first := c.messages()
	time.Sleep(20 * time.Millisecond)
	c.Write([]byte("sess=1 quit=1 mesg=1\r"))
	if _, at := c.messages(); !at.Equal(first) {
		t.Errorf("time moved from %v to %v without a new message", first, at)
	}
	c.Write([]byte("sess=1 quit=1 mesg=2\r"))
	if n, at := c.messages(); n != 2 || !at.After(first) {
		t.Errorf("after a new message: %d, %v (first %v)", n, at, first)
	}
}

func TestSinkArgs(t *testing.T) {
	if got := strings.Join(sinkArgs("127.0.0.1:2526", true), " "); got != "-c -u nobody 127.0.0.1:2526 256" {
		t.Errorf("root args = %q", got)
	}
	if got := strings.Join(sinkArgs("127.0.0.1:2526", false), " "); got != "-c 127.0.0.1:2526 256" {
		t.Errorf("user args = %q", got)
	}
}

func TestRelayExtra(t *testing.T) {
	for _, f := range []flavor{ternFlavor{}, postfixFlavor{}} {
		e := relayExtra(f, "127.0.0.1:0", "127.0.0.1:40001")
		want := []string{"transport_maps = inline:{ relay.tst=smtp:[127.0.0.1]:40001 }", "smtp_tls_security_level = none"}
		if !slices.Equal(e.main, want) {
			t.Errorf("%s main lines = %q, want %q", f.name(), e.main, want)
		}
		var master []string
		for _, l := range e.master {
			master = append(master, strings.Join(strings.Fields(l), " "))
		}
		wantMaster := []string{"127.0.0.1:0 inet n - n - - smtpd"}
		if f.name() == "tern" {
			wantMaster = append(wantMaster, "smtp unix - - n - - smtp")
		}
		if !slices.Equal(master, wantMaster) {
			t.Errorf("%s master lines = %q, want %q", f.name(), master, wantMaster)
		}
	}
}

// Postfix's master.cf, as the bench writes it, has the smtp client the
// relay phase needs.
func TestPostfixMasterHasSMTP(t *testing.T) {
	if _, err := os.Stat(postfixMasterCF); err != nil {
		t.Skipf("no %s: %v", postfixMasterCF, err)
	}
	m, err := postfixFlavor{}.masterCF()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, l := range strings.Split(m, "\n") {
		f := strings.Fields(l)
		found = found || len(f) == 8 && f[0] == "smtp" && f[1] == "unix" && f[7] == "smtp"
	}
	if !found {
		t.Errorf("no smtp unix service in Postfix's master.cf:\n%s", m)
	}
}

func TestRelayCases(t *testing.T) {
	got := relayCases(config{relayN: 30, relaySessions: []int{1, 10}})
	want := []smtpCase{{1024, 1, 30}, {1024, 10, 30}}
	if !slices.Equal(got, want) {
		t.Errorf("relayCases = %v, want %v", got, want)
	}
	if got := relayCases(config{relayN: 0, relaySessions: []int{1}}); got != nil {
		t.Errorf("relayCases with -relay-n 0 = %v", got)
	}
}

func TestRelayUsable(t *testing.T) {
	dir := t.TempDir()
	exe := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	base := config{smtpSource: exe("smtp-source"), smtpSink: exe("smtp-sink"), relayN: 1, relaySessions: []int{1}}
	tests := []struct {
		name string
		edit func(*config)
		ok   bool
	}{
		{"usable", func(*config) {}, true},
		{"disabled", func(c *config) { c.noRelay = true }, false},
		{"smtp only", func(c *config) { c.smtpOnly = true }, false},
		{"no cases", func(c *config) { c.relayN = 0 }, false},
		{"no source", func(c *config) { c.smtpSource = filepath.Join(dir, "none") }, false},
		{"no sink", func(c *config) { c.smtpSink = filepath.Join(dir, "none") }, false},
		{"sink is a folder", func(c *config) { c.smtpSink = dir }, false},
	}
	for _, tt := range tests {
		c := base
		tt.edit(&c)
		if ok, why := relayUsable(c); ok != tt.ok || ok != (why == "") {
			t.Errorf("%s: relayUsable = %v, %q; want %v", tt.name, ok, why, tt.ok)
		}
	}
}

func TestParseFlagsRelay(t *testing.T) {
	tests := []struct {
		args     []string
		ok       bool
		sessions []int
	}{
		{nil, true, []int{1, 10, 50}},
		{[]string{"-relay-only", "-relay-sessions", "1,10"}, true, []int{1, 10}},
		{[]string{"-relay-only", "-no-relay"}, false, nil},
		{[]string{"-relay-only", "-smtp-only"}, false, nil},
		{[]string{"-relay-n", "-1"}, false, nil},
		{[]string{"-relay-only", "-relay-n", "0"}, false, nil},
		{[]string{"-relay-sessions", "x"}, false, nil},
		{[]string{"-no-relay", "-relay-n", "0"}, true, []int{1, 10, 50}},
	}
	for _, tt := range tests {
		cfg, err := parseFlags(tt.args, &bytes.Buffer{})
		if (err == nil) != tt.ok {
			t.Errorf("parseFlags(%q) err = %v, want ok %v", tt.args, err, tt.ok)
		}
		if tt.ok && !slices.Equal(cfg.relaySessions, tt.sessions) {
			t.Errorf("parseFlags(%q) relay sessions = %v, want %v", tt.args, cfg.relaySessions, tt.sessions)
		}
	}
}

func TestMakePlan(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "smtp-source")
	if err := os.WriteFile(src, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := config{smtpSource: src, smtpSink: src, smtpSmall: 2, smtpSessions: []int{1}, relayN: 3, relaySessions: []int{10}}
	tests := []struct {
		name              string
		edit              func(*config)
		core, smtp, relay bool
		err               bool
	}{
		{"all", func(*config) {}, true, true, true, false},
		{"smtp only", func(c *config) { c.smtpOnly = true }, false, true, false, false},
		{"relay only", func(c *config) { c.relayOnly = true }, false, false, true, false},
		{"no relay", func(c *config) { c.noRelay = true }, true, true, false, false},
		{"no sink", func(c *config) { c.smtpSink = filepath.Join(dir, "none") }, true, true, false, false},
		{"relay only, no sink", func(c *config) { c.relayOnly = true; c.smtpSink = filepath.Join(dir, "none") }, false, false, false, true},
	}
	for _, tt := range tests {
		c := base
		tt.edit(&c)
		p, err := makePlan(c)
		if (err != nil) != tt.err {
			t.Errorf("%s: err = %v, want error %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			continue
		}
		if p.core != tt.core || (len(p.smtp) > 0) != tt.smtp || (len(p.relay) > 0) != tt.relay {
			t.Errorf("%s: plan core %v, smtp %d cases, relay %d cases; want %v %v %v", tt.name, p.core, len(p.smtp), len(p.relay), tt.core, tt.smtp, tt.relay)
		}
		if len(p.relay) == 0 && p.relayWhy == "" {
			t.Errorf("%s: no relay cases and no reason", tt.name)
		}
	}
}

func TestPrintRunRelay(t *testing.T) {
	cases := []smtpCase{{1024, 1, 10}, {1024, 10, 10}}
	r := runResults{
		tern:    result{relay: []smtpFigures{{rate: 100, cpu: time.Millisecond}, {rate: 250, cpu: time.Millisecond}}},
		postfix: result{relay: []smtpFigures{{rate: 50, cpu: 3 * time.Millisecond}, {rate: 100, cpu: 2 * time.Millisecond}}},
	}
	var b bytes.Buffer
	missed := printRun(&b, "run 1 of 1", plan{relay: cases}, r, true)
	out := b.String()
	if !missed {
		t.Errorf("missed = false with 2.5x at 10 sessions:\n%s", out)
	}
	for _, want := range []string{"run 1 of 1, relay", "relay rate 1 KB, 1 session", "relay rate 1 KB, 10 sessions",
		"2.50x rate", "BELOW (83% of target)", "relay CPU per message 1 KB, 1 session", "3.00x less CPU"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"SMTP intake", "sendmail injection rate"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("report has %q:\n%s", unwanted, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, ">= 3x") != (strings.Contains(line, "10 sessions") && strings.Contains(line, "msg/s")) {
			t.Errorf("target on the wrong row: %q", line)
		}
	}
	r.tern.relay[1].rate = 300
	b.Reset()
	if printRun(&b, "t", plan{relay: cases}, r, true) {
		t.Errorf("missed at exactly 3x:\n%s", b.String())
	}
}

func TestMedFiguresRelay(t *testing.T) {
	runs := []runResults{
		{postfix: result{relay: []smtpFigures{{rate: 4, cpu: 5}}}},
		{postfix: result{relay: []smtpFigures{{rate: 2, cpu: 1}}}},
		{postfix: result{relay: []smtpFigures{{rate: 9, cpu: 3}}}},
	}
	m := medians(runs)
	if want := []smtpFigures{{rate: 4, cpu: 3}}; !slices.Equal(m.postfix.relay, want) {
		t.Errorf("postfix relay medians = %v, want %v", m.postfix.relay, want)
	}
	if m.tern.relay != nil || m.postfix.smtp != nil {
		t.Errorf("medians made up figures: tern relay %v, postfix smtp %v", m.tern.relay, m.postfix.smtp)
	}
}

// fakeSink is a sink without a process: counter fed by the test, done
// closed to play an exit.
func fakeSink() *sink {
	return &sink{counter: &sinkCounter{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
}

func TestWaitSink(t *testing.T) {
	tests := []struct {
		name    string
		sinkOut string
		log     string
		exited  bool
		want    string // "" for success, else part of the error
	}{
		{"all received", "mesg=3\r", "", false, ""},
		{"more than sent", "mesg=4\r", "", false, ""},
		{"deferral", "mesg=1\r", "Nov 23 h tern/smtp[9]: 1A: to=<bench@relay.tst>, relay=x, dsn=4.4.1, status=deferred (lost connection)\n", false, "delivery failed"},
		{"sink died", "mesg=1\r", "", true, "smtp-sink exited after 1 of 3"},
		{"stalled", "mesg=2\r", "", false, "stalled"},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "maillog")
		if err := os.WriteFile(logPath, []byte(tt.log), 0o644); err != nil {
			t.Fatal(err)
		}
		sk := fakeSink()
		sk.counter.Write([]byte(tt.sinkOut))
		if tt.exited {
			close(sk.done)
		}
		in := &instance{flavor: ternFlavor{}, logPath: logPath}
		b := &bencher{in: in, lc: &logCounter{path: logPath}, stall: 100 * time.Millisecond, submitted: 3}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		at, err := b.waitSink(ctx, sk)
		cancel()
		switch {
		case tt.want == "" && (err != nil || at.IsZero()):
			t.Errorf("%s: waitSink = %v, %v; want a time", tt.name, at, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: waitSink error = %v, want one with %q", tt.name, err, tt.want)
		}
		if tt.name == "stalled" && !errors.Is(err, errSinkStalled) {
			t.Errorf("stalled: error %v is not errSinkStalled", err)
		}
	}
}

// TestStartSink runs the real smtp-sink, sends it two messages and
// checks the count and that stop ends the process.
func TestStartSink(t *testing.T) {
	const path = "/usr/sbin/smtp-sink"
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("smtp-sink missing in CI (install Debian's postfix): %v", err)
		}
		t.Skipf("smtp-sink missing (Debian package postfix): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sk, err := startSink(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sk.stop)
	for i := range 2 {
		msg := []byte("Subject: sink test\r\n\r\nbody\r\n")
		if err := smtp.SendMail(sk.addr, nil, "a@example.tst", []string{"b@relay.tst"}, msg); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for n, _ := sk.received(); n < 2; n, _ = sk.received() {
		if time.Now().After(deadline) {
			t.Fatalf("sink counted %d of 2 messages; stderr %q", n, sk.stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := sk.cmd.Process.Pid
	sk.stop()
	if !sk.exited() {
		t.Fatal("sink not reaped after stop")
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("smtp-sink pid %d still runs after stop", pid)
	}
	sk.stop() // a second stop is harmless
}

func FuzzParseSinkStatus(f *testing.F) {
	f.Add("sess=1 quit=1 mesg=2")
	f.Add("mesg=99999999999999999999")
	f.Fuzz(func(t *testing.T, line string) {
		if n, ok := parseSinkStatus([]byte(line)); n < 0 || !ok && n != 0 {
			t.Errorf("parseSinkStatus(%q) = %d, %v", line, n, ok)
		}
	})
}

func FuzzSinkCounter(f *testing.F) {
	f.Add("sess=0 quit=0 mesg=1\rsess=1 quit=1 me", "sg=2\r")
	f.Add("\r\r\n", "mesg=")
	f.Fuzz(func(t *testing.T, a, b string) {
		var c sinkCounter
		c.Write([]byte(a))
		n1, _ := c.messages()
		c.Write([]byte(b))
		n2, _ := c.messages()
		if n1 < 0 || n2 < n1 || len(c.partial) > maxSinkLine {
			t.Errorf("counts %d then %d, partial %d bytes", n1, n2, len(c.partial))
		}
	})
}
