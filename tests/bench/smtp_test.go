package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseListening(t *testing.T) {
	tests := []struct {
		name string
		log  string
		want string
		ok   bool
	}{
		{"none", "Nov 23 tern/master[1]: daemon started\n", "", false},
		{"one", "Nov 23 h tern/master[1]: service 127.0.0.1:0: listening on 127.0.0.1:43203\n", "127.0.0.1:43203", true},
		{"last wins", "service 127.0.0.1:0: listening on 127.0.0.1:1000\nservice 127.0.0.1:0: listening on 127.0.0.1:2000\n", "127.0.0.1:2000", true},
		{"other service", "service 127.0.0.1:25: listening on 127.0.0.1:25\n", "", false},
		{"port zero", "service 127.0.0.1:0: listening on 127.0.0.1:0\n", "", false},
		{"port too big", "service 127.0.0.1:0: listening on 127.0.0.1:70000\n", "", false},
		{"port too long", "service 127.0.0.1:0: listening on 127.0.0.1:123456\n", "", false},
		{"no newline", "service 127.0.0.1:0: listening on 127.0.0.1:587", "127.0.0.1:587", true},
	}
	for _, tt := range tests {
		got, ok := parseListening([]byte(tt.log))
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: parseListening = %q, %v; want %q, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseSessions(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"1,10,50", []int{1, 10, 50}, true},
		{" 4 , 2,", []int{4, 2}, true},
		{"", nil, false},
		{",", nil, false},
		{"0", nil, false},
		{"1,x", nil, false},
		{"1001", nil, false},
	}
	for _, tt := range tests {
		got, err := parseSessions(tt.in)
		if (err == nil) != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("parseSessions(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSMTPCases(t *testing.T) {
	tests := []struct {
		name         string
		small, large int
		sessions     []int
		want         []smtpCase
	}{
		{"both sizes", 20, 5, []int{1, 10}, []smtpCase{{1024, 1, 20}, {1024, 10, 20}, {102400, 1, 5}, {102400, 10, 5}}},
		{"small only", 7, 0, []int{3}, []smtpCase{{1024, 3, 7}}},
		{"none", 0, 0, []int{3}, nil},
	}
	for _, tt := range tests {
		got := smtpCases(config{smtpSmall: tt.small, smtpLarge: tt.large, smtpSessions: tt.sessions})
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: smtpCases = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCaseLabel(t *testing.T) {
	tests := []struct {
		c    smtpCase
		want string
	}{
		{smtpCase{size: 1024, sessions: 1}, "1 KB, 1 session"},
		{smtpCase{size: 102400, sessions: 10}, "100 KB, 10 sessions"},
		{smtpCase{size: 1000, sessions: 2}, "1000 bytes, 2 sessions"},
	}
	for _, tt := range tests {
		if got := tt.c.label(); got != tt.want {
			t.Errorf("label(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestSourcerArgs(t *testing.T) {
	s := &sourcer{addr: "127.0.0.1:2525", from: "usera@example.tst", to: "usera@example.tst"}
	c := smtpCase{size: 1024, sessions: 10, messages: 2000}
	want := "-s 10 -m 2000 -l 1024 -f usera@example.tst -t usera@example.tst -M client.example.tst 127.0.0.1:2525"
	if got := strings.Join(s.args(c), " "); got != want {
		t.Errorf("args = %q, want %q", got, want)
	}
	s.reuse = true
	if got := strings.Join(s.args(c), " "); !strings.HasSuffix(got, " -d 127.0.0.1:2525") {
		t.Errorf("args with reuse = %q, want -d before the address", got)
	}
}

func TestSMTPExtra(t *testing.T) {
	e := smtpExtra("127.0.0.1:0")
	if len(e.master) != 1 || strings.Join(strings.Fields(e.master[0]), " ") != "127.0.0.1:0 inet n - n - - smtpd" {
		t.Errorf("master lines = %q", e.master)
	}
	if len(e.main) != 1 || !strings.Contains(e.main[0], "example.tst=discard:") {
		t.Errorf("main lines = %q", e.main)
	}
}

func TestPostfixSMTPListen(t *testing.T) {
	service, err := postfixFlavor{}.smtpListen()
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(service)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Errorf("smtpListen = %q, %v; want 127.0.0.1 and a port", service, err)
	}
	// The port is free again: the bench's Postfix can bind it.
	l, err := net.Listen("tcp4", service)
	if err != nil {
		t.Fatalf("listen on the chosen %s: %v", service, err)
	}
	l.Close()
}

func TestWaitListening(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := waitListening(ctx, l.Addr().String()); err != nil {
		t.Errorf("waitListening on a listener: %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if err := waitListening(short, addr); err == nil {
		t.Error("waitListening on a closed port succeeded")
	}
}

func TestPrintRunSMTPMarks(t *testing.T) {
	cases := []smtpCase{{1024, 1, 10}, {1024, 10, 10}, {102400, 10, 5}}
	r := runResults{
		tern:    result{smtp: []smtpFigures{{rate: 100, cpu: time.Millisecond}, {rate: 400, cpu: time.Millisecond}, {rate: 20, cpu: 4 * time.Millisecond}}},
		postfix: result{smtp: []smtpFigures{{rate: 200, cpu: time.Millisecond}, {rate: 100, cpu: 2 * time.Millisecond}, {rate: 10, cpu: 2 * time.Millisecond}}},
	}
	var b bytes.Buffer
	missed := printRun(&b, "run 1 of 1", plan{smtp: cases}, r, true)
	out := b.String()
	if !missed {
		t.Errorf("missed = false with 100 KB at 2x:\n%s", out)
	}
	for _, want := range []string{"run 1 of 1, SMTP intake:", "SMTP intake 1 KB, 1 session", "0.50x rate", "4.00x rate",
		"2.00x rate", "BELOW (67% of target)", "PASS", "CPU per message 1 KB, 10 sessions", "2.00x less CPU"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sendmail injection rate") {
		t.Errorf("core table printed without core:\n%s", out)
	}
	// Only the 10-session rows carry the target.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, ">= 3x") != (strings.Contains(line, "10 sessions") && strings.Contains(line, "msg/s")) {
			t.Errorf("target on the wrong row: %q", line)
		}
	}
	b.Reset()
	if printRun(&b, "t", plan{smtp: cases}, r, false) {
		t.Error("missed without Postfix")
	}
	if strings.Contains(b.String(), "postfix") {
		t.Errorf("tern-only table names postfix:\n%s", b.String())
	}
}

func TestMedSMTP(t *testing.T) {
	runs := []runResults{
		{tern: result{smtp: []smtpFigures{{rate: 1, cpu: 3}, {rate: 9, cpu: 1}}}},
		{tern: result{smtp: []smtpFigures{{rate: 5, cpu: 1}, {rate: 7, cpu: 2}}}},
		{tern: result{smtp: []smtpFigures{{rate: 3, cpu: 2}, {rate: 8, cpu: 3}}}},
	}
	m := medians(runs)
	want := []smtpFigures{{rate: 3, cpu: 2}, {rate: 8, cpu: 2}}
	if !slices.Equal(m.tern.smtp, want) {
		t.Errorf("tern smtp medians = %v, want %v", m.tern.smtp, want)
	}
	if m.postfix.smtp != nil {
		t.Errorf("postfix smtp medians = %v, want nil", m.postfix.smtp)
	}
}

func TestSMTPUsable(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "smtp-source")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	base := config{smtpSource: exe, smtpSmall: 1, smtpSessions: []int{1}}
	tests := []struct {
		name string
		edit func(*config)
		ok   bool
	}{
		{"usable", func(*config) {}, true},
		{"disabled", func(c *config) { c.noSMTP = true }, false},
		{"no cases", func(c *config) { c.smtpSmall = 0 }, false},
		{"missing", func(c *config) { c.smtpSource = filepath.Join(dir, "none") }, false},
		{"not executable", func(c *config) { c.smtpSource = plain }, false},
	}
	for _, tt := range tests {
		c := base
		tt.edit(&c)
		if ok, why := smtpUsable(c); ok != tt.ok || ok != (why == "") {
			t.Errorf("%s: smtpUsable = %v, %q; want %v", tt.name, ok, why, tt.ok)
		}
	}
}

func TestParseFlagsSMTP(t *testing.T) {
	tests := []struct {
		args     []string
		ok       bool
		sessions []int
	}{
		{nil, true, []int{1, 10, 50}},
		{[]string{"-smtp-only", "-smtp-sessions", "2,4"}, true, []int{2, 4}},
		{[]string{"-smtp-only", "-no-smtp"}, false, nil},
		{[]string{"-smtp-sessions", "0"}, false, nil},
		{[]string{"-smtp-n", "-1"}, false, nil},
		{[]string{"-smtp-only", "-smtp-n", "0", "-smtp-n-large", "0"}, false, nil},
		{[]string{"-smtp-timeout", "0s"}, false, nil},
	}
	for _, tt := range tests {
		cfg, err := parseFlags(tt.args, &bytes.Buffer{})
		if (err == nil) != tt.ok {
			t.Errorf("parseFlags(%q) err = %v, want ok %v", tt.args, err, tt.ok)
		}
		if tt.ok && !slices.Equal(cfg.smtpSessions, tt.sessions) {
			t.Errorf("parseFlags(%q) sessions = %v, want %v", tt.args, cfg.smtpSessions, tt.sessions)
		}
	}
}

func FuzzParseListening(f *testing.F) {
	f.Add("service 127.0.0.1:0: listening on 127.0.0.1:43203\n")
	f.Add("service 127.0.0.1:0: listening on 127.0.0.1:99999")
	f.Fuzz(func(t *testing.T, log string) {
		addr, ok := parseListening([]byte(log))
		if !ok {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "127.0.0.1" || port == "0" {
			t.Errorf("parseListening(%q) = %q", log, addr)
		}
	})
}

func FuzzParseSessions(f *testing.F) {
	f.Add("1,10,50")
	f.Add(" ,0,")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseSessions(s)
		if err == nil && len(got) == 0 {
			t.Errorf("parseSessions(%q): no error and no counts", s)
		}
		for _, n := range got {
			if n < 1 || n > 1000 {
				t.Errorf("parseSessions(%q) gave %d", s, n)
			}
		}
	})
}
