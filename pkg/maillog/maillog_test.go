package maillog

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLineFormat(t *testing.T) {
	tests := []struct {
		log  func(l *Logger)
		want string
	}{
		{func(l *Logger) { l.Infof("%s: removed", "4Xk2") }, "4Xk2: removed"},
		{func(l *Logger) { l.Warnf("disk %d%%", 99) }, "warning: disk 99%"},
		{func(l *Logger) { l.Errorf("x") }, "error: x"},
		{func(l *Logger) { l.Fatalf("y") }, "fatal: y"},
		{func(l *Logger) { l.Infof("two\nlines") }, "two lines"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		l := &Logger{opt: Options{Program: "tern/qmgr", Hostname: "mail", PID: 42}, w: &buf,
			now: func() time.Time { return time.Date(2026, 11, 22, 12, 0, 5, 0, time.UTC) }}
		tt.log(l)
		want := "Nov 22 12:00:05 mail tern/qmgr[42]: " + tt.want + "\n"
		if buf.String() != want {
			t.Errorf("got %q, want %q", buf.String(), want)
		}
	}
}

func TestSyslogFormat(t *testing.T) {
	var buf bytes.Buffer
	l := &Logger{opt: Options{Program: "tern/smtpd", PID: 7}, w: &buf, syslog: true, priority: facilityCode("mail") * 8,
		now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
	l.Warnf("w")
	if got, want := buf.String(), "<20>Jan  2 03:04:05 tern/smtpd[7]: warning: w"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestAsAndWithProgram: a Logger for another process's lines writes that
// program and pid, to the same destination, in the same format (syslog's
// too); WithProgram keeps the syslog_name part and the pid.
func TestAsAndWithProgram(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 12, 4, 9, 8, 7, 0, time.UTC) }
	var buf bytes.Buffer
	qmgr := &Logger{opt: Options{Program: "tern/qmgr", Hostname: "mail", PID: 42}, w: &buf, now: now}
	qmgr.As("tern/submission/smtpd", 4711).Infof("%s: client=%s", "4Xk2", "x[127.0.0.1]")
	qmgr.WithProgram("verify").Infof("v")
	qmgr.Infof("q")
	want := "Dec  4 09:08:07 mail tern/submission/smtpd[4711]: 4Xk2: client=x[127.0.0.1]\n" +
		"Dec  4 09:08:07 mail tern/verify[42]: v\n" +
		"Dec  4 09:08:07 mail tern/qmgr[42]: q\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
	buf.Reset()
	sys := &Logger{opt: Options{Program: "tern/qmgr", PID: 42}, w: &buf, syslog: true, priority: facilityCode("mail") * 8, now: now}
	sys.As("tern/smtpd", 7).Infof("i")
	if got, want := buf.String(), "<22>Dec  4 09:08:07 tern/smtpd[7]: i"; got != want {
		t.Errorf("syslog: got %q, want %q", got, want)
	}
	var none *Logger
	none.As("tern/smtpd", 7).Infof("a nil Logger stays silent")
}

func TestFileAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "maillog")
	for i := 0; i < 2; i++ {
		l, err := New(Options{Program: "tern/x", File: path, Hostname: "h"})
		if err != nil {
			t.Fatal(err)
		}
		l.Infof("line %d", i)
		l.Close()
	}
	b, _ := os.ReadFile(path)
	re := regexp.MustCompile(`^\w{3} [ \d]\d \d\d:\d\d:\d\d h tern/x\[\d+\]: line \d$`)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %q", len(lines), b)
	}
	for _, line := range lines {
		if !re.MatchString(line) {
			t.Errorf("line %q does not match Postfix's format", line)
		}
	}
}

// TestLinesShareTheBuffer: a Logger builds each line in the buffer the
// last one used; a short line after a long one, and lines after one
// longer than the buffer kept, come out whole and alone.
func TestLinesShareTheBuffer(t *testing.T) {
	var buf bytes.Buffer
	l := &Logger{opt: Options{Program: "tern/smtpd", Hostname: "mail", PID: 9}, w: &buf,
		now: func() time.Time { return time.Date(2026, 12, 3, 16, 0, 0, 0, time.UTC) }}
	msgs := []string{strings.Repeat("long ", 40), "short", strings.Repeat("x", maxKeptLine+100), "after", ""}
	for _, m := range msgs {
		l.Infof("%s", m)
	}
	var want strings.Builder
	for _, m := range msgs {
		want.WriteString("Dec  3 16:00:00 mail tern/smtpd[9]: " + m + "\n")
	}
	if buf.String() != want.String() {
		t.Errorf("lines differ:\n%.300q\nwant\n%.300q", buf.String(), want.String())
	}
}
