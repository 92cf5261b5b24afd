package postconf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// run calls Main with -c dir and returns stdout, stderr and the status.
func run(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(append([]string{"-c", dir}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

func writeConf(t *testing.T, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o640); err != nil {
		t.Fatal(err)
	}
	return dir
}

const sampleMain = `# header comment
myhostname = mail.example.com
relayhost = [smart.example.com]
mydestination = $myhostname,
    localhost
my_var = 1
`

func TestPrint(t *testing.T) {
	dir := writeConf(t, "main.cf", sampleMain)
	tests := []struct {
		name    string
		args    []string
		stdout  string
		stderr  string
		code    int
		partial bool // stdout must only contain the given text
	}{
		{name: "named", args: []string{"relayhost", "myhostname"},
			stdout: "relayhost = [smart.example.com]\nmyhostname = mail.example.com\n"},
		{name: "hide", args: []string{"-h", "relayhost"}, stdout: "[smart.example.com]\n"},
		{name: "raw", args: []string{"mydestination"}, stdout: "mydestination = $myhostname, localhost\n"},
		{name: "expand", args: []string{"-x", "mydestination", "smtpd_banner"},
			stdout: "mydestination = mail.example.com, localhost\nsmtpd_banner = mail.example.com ESMTP tern\n"},
		{name: "empty value", args: []string{"home_mailbox"}, stdout: "home_mailbox =\n"},
		{name: "unknown", args: []string{"relayhost", "no_such_param"},
			stdout: "relayhost = [smart.example.com]\n",
			stderr: "tern conf: warning: " + filepath.Join(dir, "main.cf") + ":6: unknown parameter \"my_var\"\n" +
				"tern conf: warning: unknown parameter: no_such_param\n",
			code: 1},
		{name: "non-default", args: []string{"-n"},
			stdout: "my_var = 1\nmydestination = $myhostname, localhost\nmyhostname = mail.example.com\nrelayhost = [smart.example.com]\n"},
		{name: "non-default named", args: []string{"-n", "relayhost", "biff"},
			stdout: "relayhost = [smart.example.com]\n"},
		{name: "defaults", args: []string{"-d", "relayhost", "mail_name", "message_size_limit"},
			stdout: "relayhost =\nmail_name = tern\nmessage_size_limit = 10240000\n"},
		{name: "defaults hide", args: []string{"-dh", "syslog_name"},
			stdout: "${multi_instance_name?{$multi_instance_name}:{tern}}\n"},
		{name: "defaults expanded", args: []string{"-dhx", "syslog_name"}, stdout: "tern\n"},
		{name: "all", args: nil, stdout: "relayhost = [smart.example.com]\n", partial: true},
		{name: "conflict", args: []string{"-n", "-d"}, stderr: "tern conf: use only one of -d, -e, -M, -n and -X\n", code: 1},
		{name: "bad flag", args: []string{"--bogus"}, code: 1, partial: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := run(t, dir, tt.args...)
			if code != tt.code {
				t.Errorf("code = %d, want %d (stderr %q)", code, tt.code, errs)
			}
			if tt.partial {
				if !strings.Contains(out, tt.stdout) {
					t.Errorf("stdout lacks %q", tt.stdout)
				}
				return
			}
			if out != tt.stdout {
				t.Errorf("stdout = %q, want %q", out, tt.stdout)
			}
			if tt.stderr != "" && errs != tt.stderr {
				t.Errorf("stderr = %q, want %q", errs, tt.stderr)
			}
		})
	}
}

func TestPrintAllIsSortedAndComplete(t *testing.T) {
	dir := writeConf(t, "main.cf", sampleMain)
	out, _, code := run(t, dir)
	if code != 0 {
		t.Fatalf("code %d", code)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) < 200 {
		t.Fatalf("only %d lines", len(lines))
	}
	for i := 1; i < len(lines); i++ {
		if lines[i-1] >= lines[i] {
			t.Fatalf("not sorted: %q before %q", lines[i-1], lines[i])
		}
	}
	if !strings.Contains(out, "\nmy_var = 1\n") {
		t.Error("user-defined parameter missing")
	}
}

func TestBadConfig(t *testing.T) {
	dir := writeConf(t, "main.cf", "relayhost = a\nmessage_size_limit = lots\n")
	for _, args := range [][]string{nil, {"-n"}, {"-M"}} {
		_, errs, code := run(t, dir, args...)
		want := filepath.Join(dir, "main.cf") + ":2: bad numerical parameter value: message_size_limit = lots\n"
		if code != 2 || errs != want {
			t.Errorf("args %q: code %d, stderr %q", args, code, errs)
		}
	}
	// -d does not read main.cf.
	if _, _, code := run(t, dir, "-d", "relayhost"); code != 0 {
		t.Errorf("-d with a bad main.cf: code %d", code)
	}
}

func TestMaster(t *testing.T) {
	dir := writeConf(t, "master.cf", `# services
smtp      inet  n       -       n       -       -       smtpd
  -o smtpd_banner=hi
pickup    unix  n       -       n       60      1       qmgr
`)
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte("default_process_limit = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := run(t, dir, "-M")
	want := "smtp      inet  n       y       n       -       7       smtpd -o smtpd_banner=hi\n" +
		"pickup    unix  n       y       n       60      1       qmgr\n"
	if code != 0 || out != want {
		t.Errorf("-M: code %d stdout %q stderr %q", code, out, errs)
	}
	out, errs, code = run(t, dir, "-M", "pickup/unix", "nothere")
	if code != 1 || !strings.HasPrefix(out, "pickup ") || strings.Count(out, "\n") != 1 ||
		errs != "tern conf: warning: unknown service: nothere\n" {
		t.Errorf("-M names: code %d stdout %q stderr %q", code, out, errs)
	}
	bad := writeConf(t, "master.cf", "smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n")
	_, errs, code = run(t, bad, "-M")
	if code != 2 || !strings.Contains(errs, "master.cf:2: duplicate service smtp/inet") {
		t.Errorf("-M bad: code %d stderr %q", code, errs)
	}
}

func TestMasterReferencesCountAsUses(t *testing.T) {
	dir := writeConf(t, "main.cf", "mua_client_restrictions = permit_sasl_authenticated, reject\nunused_var = 1\n")
	master := "submission inet n - n - - smtpd\n  -o smtpd_client_restrictions=$mua_client_restrictions\n"
	if err := os.WriteFile(filepath.Join(dir, "master.cf"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, dir, "-n")
	want := "tern conf: warning: " + filepath.Join(dir, "main.cf") + ":2: unknown parameter \"unused_var\"\n"
	if code != 0 || errs != want {
		t.Errorf("code %d stderr %q, want %q", code, errs, want)
	}
}
