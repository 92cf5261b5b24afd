package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseMaster(t *testing.T) {
	const text = `# comment
smtp      inet  n       -       n       -       -       smtpd
submission inet n       -       y       -       5       smtpd -v
  -o syslog_name=tern/submission
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
# comment between continuation lines
  -o smtpd_tls_security_level=encrypt
127.0.0.1:2525 inet n   y       n       -       0       smtpd -osmtpd_banner=x
pickup    unix  -       -       -       60?     1       qmgr { -a b }
`
	got, err := ParseMaster("master.cf", strings.NewReader(text), 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{Name: "smtp", Type: "inet", Private: false, Unpriv: true, Chroot: false, MaxProc: 100,
			Command: "smtpd", File: "master.cf", Line: 2},
		{Name: "submission", Type: "inet", Unpriv: true, Chroot: true, MaxProc: 5,
			Command: "smtpd", Args: []string{"-v"},
			Overrides: [][2]string{
				{"syslog_name", "tern/submission"},
				{"smtpd_client_restrictions", "permit_sasl_authenticated, reject"},
				{"smtpd_tls_security_level", "encrypt"},
			}, File: "master.cf", Line: 3},
		{Name: "127.0.0.1:2525", Type: "inet", Unpriv: true, MaxProc: 0, Command: "smtpd",
			Overrides: [][2]string{{"smtpd_banner", "x"}}, File: "master.cf", Line: 8},
		{Name: "pickup", Type: "unix", Private: true, Unpriv: true, Wakeup: 60, MaxProc: 1,
			Command: "qmgr", Args: []string{"-a b"}, File: "master.cf", Line: 9},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseMaster:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseMasterErrors(t *testing.T) {
	tests := []struct{ name, text, want string }{
		{"too few columns", "smtp inet n - n - -\n", "master.cf:1: expected at least 8 columns, found 7"},
		{"bad type", "\nsmtp tcp n - n - - smtpd\n", "master.cf:2: unknown service type \"tcp\""},
		{"bad private", "smtp inet x - n - - smtpd\n", "master.cf:1: bad private column value \"x\""},
		{"bad unpriv", "smtp inet n yes n - - smtpd\n", "master.cf:1: bad unpriv column value"},
		{"bad chroot", "smtp inet n - 1 - - smtpd\n", "master.cf:1: bad chroot column value"},
		{"bad wakeup", "smtp inet n - n soon - smtpd\n", "master.cf:1: bad wakeup column value \"soon\""},
		{"negative maxproc", "smtp inet n - n - -1 smtpd\n", "master.cf:1: bad maxproc column value \"-1\""},
		{"dangling -o", "smtp inet n - n - - smtpd\n  -o\n", "master.cf:1: missing name=value after -o"},
		{"-o without =", "smtp inet n - n - - smtpd -o foo\n", "master.cf:1: bad -o argument \"foo\""},
		{"-o empty name", "smtp inet n - n - - smtpd -o { = x }\n", "master.cf:1: bad -o argument"},
		{"unclosed brace", "smtp inet n - n - - smtpd -o { a = b\n", "master.cf:1: missing '}'"},
		{"text after brace", "smtp inet n - n - - smtpd {a}b\n", "master.cf:1: unexpected text after '}'"},
		{"duplicate", "smtp inet n - n - - smtpd\n# x\nsmtp inet n - n - - smtpd\n", "master.cf:3: duplicate service smtp/inet (first defined at line 1)"},
		{"leading continuation", "  smtp inet n - n - - smtpd\n", "master.cf:1: continuation line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMaster("master.cf", strings.NewReader(tt.text), 100)
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("error = %v, want *Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestMasterSameNameDifferentType(t *testing.T) {
	text := "smtp inet n - n - - smtpd\nsmtp unix - - n - - smtp\n"
	s, err := ParseMaster("master.cf", strings.NewReader(text), 100)
	if err != nil || len(s) != 2 {
		t.Fatalf("got %v, %v", s, err)
	}
}

func TestServiceStringRoundTrip(t *testing.T) {
	text := "sub inet n - y 10 7 smtpd -v { a b } -o x=1 -o { y = two words } -o z=\n"
	s, err := ParseMaster("m", strings.NewReader(text), 100)
	if err != nil {
		t.Fatal(err)
	}
	line := s[0].String()
	want := "sub       inet  n       y       y       10      7       smtpd -v { a b } -o x=1 -o { y = two words } -o { z =  }"
	if line != want {
		t.Errorf("String() =\n%q\nwant\n%q", line, want)
	}
	again, err := ParseMaster("m", strings.NewReader(line), 100)
	if err != nil {
		t.Fatal(err)
	}
	again[0].Line, s[0].Line = 0, 0
	if !reflect.DeepEqual(again[0], s[0]) {
		t.Errorf("round trip:\n got %+v\nwant %+v", again[0], s[0])
	}
}

func TestLoadMaster(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadMaster(dir, 100); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing master.cf: %v", err)
	}
	path := filepath.Join(dir, "master.cf")
	if err := os.WriteFile(path, []byte("smtp inet n - n - - smtpd\nbad\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadMaster(dir, 100)
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.File != path || cerr.Line != 2 {
		t.Errorf("LoadMaster error = %v", err)
	}
}

// TestOverrideWarnings: master.cf -o parameters were never checked, so
// an unsupported in_flow_delay and a misspelt
// name had no effect without a word. Unknown names (unless a value
// refers to them), and known ones tern does not support, are warned
// about at their entry; per-service parameters of the entries are known.
func TestOverrideWarnings(t *testing.T) {
	dir := t.TempDir()
	master := "smtp-amavis unix - - n - 2 smtp\n  -o smtp_data_done_timeout=1200\n  -o smtp-amavis_destination_concurrency_limit=2\n" +
		"127.0.0.1:10025 inet n - n - - smtpd\n  -o in_flow_delay=2s\n  -o smtpd_etrn_restrictions=\n" +
		"  -o smtpd_recipient_restrictions=$filter_rcpt\n  -o filter_rcpt=permit_mynetworks,reject\n  -o smtpd_helo_restrictons=\n"
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	services, err := LoadMaster(dir, 100)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse("main.cf", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "master.cf")
	want := []string{
		path + ":4: warning: service 127.0.0.1:10025: -o in_flow_delay is not supported by tern yet: the setting has no effect",
		path + ":4: warning: service 127.0.0.1:10025: -o smtpd_helo_restrictons: unknown parameter",
	}
	if got := c.OverrideWarnings(services); !reflect.DeepEqual(got, want) {
		t.Errorf("OverrideWarnings =\n%q\nwant\n%q", got, want)
	}
}
