package tests

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startPostgrey runs Debian's postgrey, a real greylisting policy server,
// on a unix socket with a one-second greylist delay, and returns the
// socket path. It stops with the test.
func startPostgrey(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("postgrey")
	if err != nil {
		needPackage(t, "postgrey", "postgrey not installed")
	}
	dir := readableTempDir(t)
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db, 0o777); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "postgrey.sock")
	// As the user running the tests: the test folders are theirs alone.
	runAs := []string{"--user=root", "--group=root"}
	if !isRoot() {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			t.Fatal(err)
		}
		runAs = []string{"--user=" + u.Username, "--group=" + g.Name}
	}
	cmd := exec.Command(bin, append([]string{"--unix=" + sock, "--dbdir=" + db, "--delay=1",
		"--pidfile=" + filepath.Join(dir, "pid")}, runAs...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start postgrey: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitFor(t, 20*time.Second, "postgrey listening", func() bool {
		c, err := net.Dial("unix", sock)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return sock
}

// TestGreylistingWithPostgrey: check_policy_service against postgrey
// defers the first attempt (450 Greylisted), accepts a retry after the
// delay, and the X-Greylist header postgrey PREPENDs reaches the mailbox
// above the Received header.
func TestGreylistingWithPostgrey(t *testing.T) {
	rcpt := localUser(t)
	sock := startPostgrey(t)
	in, _ := smtpdInstance(t, "smtpd_recipient_restrictions = check_policy_service unix:"+sock)
	send := func() (string, error) {
		return swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "sender@remote.tst",
			"--to", rcpt+"@example.tst", "--ehlo", "client.remote.tst", "--body", "greylisted message")
	}
	out, err := send()
	if err == nil || !strings.Contains(out, "450 4.7.1 <"+rcpt+"@example.tst>: Recipient address rejected: Greylisted") {
		t.Fatalf("first attempt not greylisted: %v\n%s", err, out)
	}
	var accepted bool
	for try := 0; try < 20 && !accepted; try++ {
		time.Sleep(500 * time.Millisecond)
		out, err = send()
		accepted = err == nil
	}
	if !accepted {
		t.Fatalf("retries after the greylist delay not accepted:\n%s", out)
	}
	in.waitMbox(rcpt, "greylisted message")
	if !regexp.MustCompile(`(?m)^X-Greylist: delayed \d+ seconds by postgrey-[^\n]+\nReceived: from client\.remote\.tst `).MatchString(in.mbox(rcpt)) {
		t.Errorf("no X-Greylist header above Received:\n%s", in.mbox(rcpt))
	}
}

// TestBracedPolicyServiceDefaultAction: Postfix 3's braced form of
// check_policy_service with its own default_action: a policy server that
// is down lets mail through (DUNNO) instead of main.cf's 451 4.3.5.
func TestBracedPolicyServiceDefaultAction(t *testing.T) {
	rcpt := localUser(t)
	dead := filepath.Join(readableTempDir(t), "no-such-policy-server")
	in, _ := smtpdInstance(t, "smtpd_recipient_restrictions = check_policy_service { unix:"+dead+", timeout=2s, try_limit=1, default_action=DUNNO }, reject_unauth_destination")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "sender@remote.tst",
		"--to", rcpt+"@example.tst", "--body", "policy server down")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "policy server down")
	if !strings.Contains(in.log(), "warning: problem talking to server unix:"+dead) {
		t.Errorf("no warning about the dead server:\n%s", in.log())
	}
}
