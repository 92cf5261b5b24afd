package master

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct{ format, want, err string }{
		{"%Y%m%d-%H%M%S", "20260304-050607", ""}, // Postfix's default
		{"%y%j.%%", "26063.%", ""},
		{"%F_%T", "2026-03-04_05:06:07", ""},
		{"%s", "1772600767", ""},
		{"old", "old", ""},
		{"%Q", "", "%Q is not supported"},
		{"%Y%", "", "ends in %"},
		{"", "", "empty"},
		{"../%Y", "", "another folder"},
	}
	for _, tt := range tests {
		got, err := strftime(tt.format, at)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %q, %v; want error %q", tt.format, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.format, got, err, tt.want)
		}
	}
}

// TestLogrotateStopped: with the system stopped there is nothing to
// reopen; the log is renamed and compressed at once. Without a log file
// (syslog, /dev/stdout) or with a name taken, nothing is touched.
func TestLogrotateStopped(t *testing.T) {
	dir, _, logFile := setup(t, testMasterCf)
	appendMain := func(line string) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(dir, "main.cf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, logFile, "a line\n")
	appendMain("maillog_file_rotate_suffix = old")
	appendMain("maillog_file_compressor =")
	if code, out := runMain(t, Options{}, "logrotate", "-c", dir); code != 0 || !strings.Contains(out, "log rotated to "+logFile+".old") {
		t.Fatalf("logrotate: %d %s", code, out)
	}
	if b, err := os.ReadFile(logFile + ".old"); err != nil || string(b) != "a line\n" {
		t.Errorf("rotated log: %q, %v", b, err)
	}
	writeFile(t, logFile, "another line\n")
	if code, out := runMain(t, Options{}, "logrotate", "-c", dir); code != 1 || !strings.Contains(out, "already exists") {
		t.Errorf("a second rotation onto the same name: %d %s", code, out)
	}
	if b, _ := os.ReadFile(logFile); string(b) != "another line\n" {
		t.Errorf("the log was touched: %q", b)
	}
	appendMain("maillog_file =")
	if code, out := runMain(t, Options{}, "logrotate", "-c", dir); code != 1 || !strings.Contains(out, "maillog_file is empty") {
		t.Errorf("without maillog_file: %d %s", code, out)
	}
}
