package sasl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
)

// realDovecot starts Dovecot's auth service in a temporary folder with a
// passwd-file holding users (name → password, hashed by doveadm) and
// returns the path of its auth socket. It is stopped by t.Cleanup.
func realDovecot(t *testing.T, users map[string]string) string {
	t.Helper()
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dovecot-core not installed")
		}
		t.Skip("dovecot not installed (Debian package dovecot-core)")
	}
	doveadm, err := exec.LookPath("doveadm")
	if err != nil {
		t.Fatal("dovecot is installed but doveadm is not")
	}
	// Dovecot's auth process runs as an unprivileged user and must read
	// the passwd-file: a folder of our own, readable, with a short path
	// for the sockets.
	dir, err := os.MkdirTemp("", "tern-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	var passwd strings.Builder
	for name, pw := range users {
		out, err := exec.Command(doveadm, "pw", "-s", "SHA512-CRYPT", "-p", pw).Output()
		if err != nil {
			t.Fatalf("doveadm pw: %v", err)
		}
		fmt.Fprintf(&passwd, "%s:%s\n", name, strings.TrimSpace(string(out)))
	}
	write(t, filepath.Join(dir, "passwd"), passwd.String())

	socket := filepath.Join(dir, "auth")
	conf := filepath.Join(dir, "dovecot.conf")
	write(t, conf, dovecotConf(t, dir, socket))

	cmd := exec.Command(bin, "-F", "-c", conf) // -F: stay in the foreground, so we can wait
	// Stdin, Stdout and Stderr stay nil: /dev/null.
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dovecot: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { stopDovecot(t, dir, cmd, exited) })

	deadline := time.Now().Add(10 * time.Second)
	for {
		if fi, err := os.Stat(socket); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return socket
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("dovecot exited: %v; log:\n%s", err, readLog(dir))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dovecot's auth socket did not appear in 10s; log:\n%s", readLog(dir))
		}
	}
}

// dovecotConf is a configuration with nothing but the auth service.
func dovecotConf(t *testing.T, dir, socket string) string {
	t.Helper()
	owner := testutil.DovecotOwnerSettings(t)
	return fmt.Sprintf(`instance_name = tern-sasl-test
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols =
ssl = no
%[3]sauth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=/nonexistent
}
service auth {
  unix_listener %[2]s {
    mode = 0666
  }
}
`, dir, socket, owner)
}

// stopDovecot kills the master named in master.pid and waits for it.
func stopDovecot(t *testing.T, dir string, cmd *exec.Cmd, exited chan error) {
	pid := cmd.Process.Pid
	if b, err := os.ReadFile(filepath.Join(dir, "run", "master.pid")); err == nil {
		if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 1 {
			pid = p
		}
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		t.Errorf("stop dovecot: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Errorf("dovecot did not stop in 10s")
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "dovecot.log"))
	return string(b)
}

func TestRealDovecot(t *testing.T) {
	socket := realDovecot(t, map[string]string{"alice": "secret", "bob@example.org": "hunter2 with spaces"})
	s := NewDovecotServer(socket, 10*time.Second)
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()

	mechs, err := s.Mechanisms(ctx, false)
	if err != nil {
		t.Fatalf("Mechanisms: %v", err)
	}
	if want := []Mechanism{{"PLAIN", PropPlaintext}, {"LOGIN", PropPlaintext}}; !reflect.DeepEqual(mechs, want) {
		t.Errorf("Mechanisms = %v, want %v", mechs, want)
	}

	tests := []struct {
		name       string
		mech       string
		initial    []byte
		responses  []string
		challenges string
		user       string // "" for a failure
	}{
		{name: "PLAIN initial", mech: "PLAIN", initial: []byte("\x00alice\x00secret"), user: "alice"},
		{name: "PLAIN challenge", mech: "PLAIN", responses: []string{"\x00bob@example.org\x00hunter2 with spaces"},
			challenges: "", user: "bob@example.org"},
		{name: "PLAIN authzid same", mech: "PLAIN", initial: []byte("alice\x00alice\x00secret"), user: "alice"},
		{name: "PLAIN wrong password", mech: "PLAIN", initial: []byte("\x00alice\x00Secret")},
		{name: "PLAIN unknown user", mech: "PLAIN", initial: []byte("\x00nosuchuser\x00secret")},
		{name: "LOGIN", mech: "LOGIN", responses: []string{"alice", "secret"},
			challenges: "Username:|Password:", user: "alice"},
		{name: "LOGIN wrong password", mech: "LOGIN", responses: []string{"bob@example.org", "hunter2"},
			challenges: "Username:|Password:"},
		{name: "LOGIN unknown user", mech: "login", responses: []string{"nosuchuser", "secret"},
			challenges: "Username:|Password:"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A client address of its own for each case: Dovecot delays
			// clients after failed attempts.
			info := Info{Service: "smtp", LocalAddr: "127.0.0.1:587", RemoteAddr: fmt.Sprintf("127.0.1.%d:45678", i+1)}
			ex, err := s.Start(ctx, tc.mech, tc.initial, info)
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer Abort(ex)
			var responses [][]byte
			for _, r := range tc.responses {
				responses = append(responses, []byte(r))
			}
			challenges, user, err := drive(t, ex, tc.initial, responses)
			if got := strings.Join(challenges, "|"); got != tc.challenges {
				t.Errorf("challenges %q, want %q", got, tc.challenges)
			}
			if tc.user == "" {
				if !errors.Is(err, ErrAuthFailed) {
					t.Errorf("err = %v, want ErrAuthFailed", err)
				}
				return
			}
			if err != nil || user != tc.user {
				t.Errorf("user %q, err %v; want %q", user, err, tc.user)
			}
		})
	}

	if _, err := s.Start(ctx, "CRAM-MD5", nil, Info{}); !errors.Is(err, ErrUnsupportedMech) {
		t.Errorf("Start(CRAM-MD5) = %v, want ErrUnsupportedMech", err)
	}
}
