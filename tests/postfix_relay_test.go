package tests

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// realPostfix is a Postfix instance in a temporary folder.
type realPostfix struct {
	t     *testing.T
	dir   string
	conf  string // config_directory (-c, -C)
	queue string
	log   string // maillog_file
}

// startRealPostfix starts a real Postfix (as root) whose only job is to
// relay everything to relayhost; it binds no SMTP listener of its own.
// It is stopped by t.Cleanup.
func startRealPostfix(t *testing.T, relayhost string) *realPostfix {
	t.Helper()
	needRealPostfix(t)
	dist, err := os.ReadFile("/usr/share/postfix/master.cf.dist")
	if err != nil {
		t.Fatalf("Postfix's master.cf.dist: %v", err)
	}
	pf, err := user.Lookup("postfix")
	if err != nil {
		t.Fatalf("user postfix: %v", err)
	}
	uid, _ := strconv.Atoi(pf.Uid)
	dir := t.TempDir()
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p := &realPostfix{t: t, dir: dir, conf: filepath.Join(dir, "etc"), queue: filepath.Join(dir, "queue"),
		log: filepath.Join(dir, "maillog")}
	data := filepath.Join(dir, "data")
	mustMkdir(t, p.conf, 0o755)
	mustMkdir(t, p.queue, 0o755)
	mustMkdir(t, data, 0o700)
	if err := os.Chown(data, uid, -1); err != nil {
		t.Fatal(err)
	}
	mainCF := strings.Join([]string{
		"compatibility_level = 3.6",
		"queue_directory = " + p.queue,
		"data_directory = " + data,
		"maillog_file = " + p.log,
		"maillog_file_prefixes = " + dir,
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"myhostname = postfix.example.org",
		"mydomain = example.org",
		"myorigin = example.org",
		"mydestination =",
		"relayhost = " + relayhost,
		"alias_maps =",
		"alias_database =",
		"smtp_tls_security_level = none",
	}, "\n") + "\n"
	writeFile(t, filepath.Join(p.conf, "main.cf"), mainCF)
	writeFile(t, filepath.Join(p.conf, "master.cf"), postfixMasterCF(string(dist)))

	t.Cleanup(p.stop)
	if out, err := p.run(30*time.Second, nil, "/usr/sbin/postfix", "-c", p.conf, "start"); err != nil {
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, p.maillog())
	}
	return p
}

// needRealPostfix skips the test unless it runs as root with Postfix
// installed (on CI a missing Postfix is a failure).
func needRealPostfix(t *testing.T) {
	t.Helper()
	if !isRoot() {
		t.Skip("a real Postfix instance needs root")
	}
	if _, err := os.Stat("/usr/sbin/postfix"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("postfix not installed (Debian package postfix)")
		}
		t.Skip("postfix not installed (Debian package postfix)")
	}
}

// postfixMasterCF turns Postfix's master.cf.dist into one for a temporary
// folder: no service is chrooted and the smtp inet listener is gone.
func postfixMasterCF(dist string) string {
	var b strings.Builder
	for _, line := range strings.Split(dist, "\n") {
		f := strings.Fields(line)
		if line == "" || line[0] == '#' || line[0] == ' ' || line[0] == '\t' || len(f) < 8 {
			b.WriteString(line + "\n")
			continue
		}
		if f[0] == "smtp" && f[1] == "inet" {
			b.WriteString("#" + line + "\n")
			continue
		}
		f[4] = "n"
		b.WriteString(strings.Join(f, "  ") + "\n")
	}
	return b.String()
}

// readableTempDir returns a new temporary folder that the daemons, running
// as mail_owner when the tests run as root, can read.
func readableTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a Postfix command with stdin (nil: none), killing it after
// timeout, and returns its output.
func (p *realPostfix) run(timeout time.Duration, stdin io.Reader, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = p.dir
	cmd.Stdin = stdin
	cmd.WaitDelay = 5 * time.Second
	return cmd.CombinedOutput()
}

func (p *realPostfix) maillog() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// masterPID returns the pid of Postfix's master while it runs, else 0.
func (p *realPostfix) masterPID() int {
	b, err := os.ReadFile(filepath.Join(p.queue, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 || !processAlive(pid) {
		return 0
	}
	return pid
}

// processAlive reports whether pid names a process that has not exited
// (a zombie has).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

// stop runs "postfix stop" and waits up to 15s for the master to exit.
func (p *realPostfix) stop() {
	pid := p.masterPID()
	if pid == 0 {
		return
	}
	if out, err := p.run(30*time.Second, nil, "/usr/sbin/postfix", "-c", p.conf, "stop"); err != nil {
		p.t.Errorf("postfix stop: %v\n%s", err, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			p.t.Errorf("Postfix master %d still running 15s after postfix stop", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p.t.Failed() {
		p.t.Logf("Postfix maillog:\n%s", p.maillog())
	}
}

// TestPostfixRelaysIntoTern: a real Postfix relays a message submitted
// with its own sendmail to tern's smtpd, which delivers it locally.
func TestPostfixRelaysIntoTern(t *testing.T) {
	needRealPostfix(t)
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	addr := in.smtpAddr("127.0.0.1:0")
	_, port, ok := strings.Cut(addr, ":")
	if !ok || !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("smtp service address %q", addr)
	}
	pf := startRealPostfix(t, "[127.0.0.1]:"+port)

	marker := fmt.Sprintf("relayed-by-postfix-%d", time.Now().UnixNano())
	msg := "From: Sender <sender@example.org>\nSubject: via postfix\n\n" + marker + "\n"
	if out, err := pf.run(30*time.Second, strings.NewReader(msg), "/usr/sbin/sendmail", "-C", pf.conf,
		"-f", "sender@example.org", rcpt+"@example.tst"); err != nil {
		t.Fatalf("postfix sendmail: %v\n%s", err, out)
	}

	waitFor(t, 45*time.Second, marker+" in the mailbox of "+rcpt, func() bool {
		return strings.Contains(in.mbox(rcpt), marker)
	})
	msgs := mboxMessages(in.mbox(rcpt))
	header, _, _ := strings.Cut(msgs[len(msgs)-1], "\n\n")
	ternRcvd := regexp.MustCompile(`(?m)^Received: from postfix\.example\.org \(localhost \[127\.0\.0\.1\]\)\n\tby mail\.example\.tst \(tern\) with ESMTP id \S+`).FindStringIndex(header)
	postfixRcvd := regexp.MustCompile(`(?m)^Received: by postfix\.example\.org \(Postfix, from userid 0\)`).FindStringIndex(header)
	switch {
	case ternRcvd == nil:
		t.Errorf("no Received header of tern naming localhost [127.0.0.1]:\n%s", header)
	case postfixRcvd == nil:
		t.Errorf("no Received header of Postfix:\n%s", header)
	case postfixRcvd[0] < ternRcvd[0]:
		t.Errorf("Postfix's Received header is above tern's:\n%s", header)
	}
	if !strings.Contains(header, "Return-Path: <sender@example.org>") {
		t.Errorf("envelope sender lost:\n%s", header)
	}
	if !strings.Contains(in.log(), "connect from localhost[127.0.0.1]") {
		t.Errorf("tern's log lacks the connection from Postfix:\n%s", in.log())
	}
	sent := regexp.MustCompile(`postfix/smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) +
		`@example\.tst>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + port + `, .*status=sent \(250 2\.0\.0 Ok: queued as \w+\)`)
	waitFor(t, 10*time.Second, "Postfix's status=sent line", func() bool { return sent.MatchString(pf.maillog()) })
}
