package tests

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startOpenDKIM runs Debian's opendkim as a signing milter for
// example.tst on a unix socket in a folder of its own, with a key made by
// opendkim-genkey, and returns the socket and the public key record. It
// is stopped by t.Cleanup.
func startOpenDKIM(t *testing.T) (socket, record string) {
	t.Helper()
	for _, tool := range []string{"opendkim", "opendkim-genkey"} {
		if _, err := exec.LookPath(tool); err != nil {
			needPackage(t, "opendkim opendkim-tools", tool+" is not installed")
		}
	}
	dir := dovecotDir(t, "tern-dkim-")
	if out, err := exec.Command("opendkim-genkey", "-D", dir, "-d", "example.tst", "-s", "sel").CombinedOutput(); err != nil {
		t.Fatalf("opendkim-genkey: %v %s", err, out)
	}
	key := filepath.Join(dir, "sel.private")
	socket = filepath.Join(dir, "opendkim.sock")
	conf := fmt.Sprintf("Syslog no\nMode sv\nDomain example.tst\nSelector sel\nKeyFile %s\nSocket local:%s\nUMask 000\nRequireSafeKeys false\nCanonicalization relaxed/simple\n", key, socket)
	if isRoot() {
		u, err := user.Lookup("opendkim")
		if err != nil {
			t.Skipf("no opendkim user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{dir, key} {
			if err := os.Chown(p, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		conf += "UserID opendkim\n"
	}
	confFile := filepath.Join(dir, "opendkim.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	startSocketDaemon(t, "opendkim", socket, exec.Command("opendkim", "-f", "-x", confFile))
	txt, err := os.ReadFile(filepath.Join(dir, "sel.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// sel.txt is a zone file record: join its quoted strings.
	var parts []string
	for _, m := range regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(string(txt), -1) {
		parts = append(parts, m[1])
	}
	return socket, strings.Join(parts, "")
}

// startSocketDaemon starts cmd, a daemon named name that serves a unix
// socket, its output in a log file, and waits until the socket is there;
// t.Cleanup stops it.
func startSocketDaemon(t *testing.T, name, socket string, cmd *exec.Cmd) {
	t.Helper()
	logFile, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		logFile.Close()
	})
	waitFor(t, 15*time.Second, "the "+name+" socket", func() bool {
		fi, err := os.Stat(socket)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	})
}

// TestMilterSignsWithOpenDKIM: smtpd_milters with opendkim, a real milter
// from Debian: the delivered message carries a DKIM-Signature that
// Python's dkimpy verifies against the key opendkim signed with. The body
// holds a bare LF (swaks sends it as given): the milter must see it as
// CRLF, as the message is delivered, or the body hash would not match
// (which is how that bug was found).
func TestMilterSignsWithOpenDKIM(t *testing.T) {
	rcpt := localUser(t)
	socket, record := startOpenDKIM(t)
	in, _ := smtpdInstance(t, "smtpd_milters = unix:"+socket, "non_smtpd_milters = $smtpd_milters", "milter_default_action = tempfail")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "alice@example.tst", "--to", rcpt+"@example.tst",
		"--header", "From: Alice <alice@example.tst>", "--header", "Subject: signed by a milter", "--body", "a body to sign\nwith two lines")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "a body to sign")
	msgs := mboxMessages(in.mbox(rcpt))
	msg := msgs[len(msgs)-1]
	if !strings.Contains(msg, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/simple; d=example.tst;") {
		t.Fatalf("no DKIM-Signature from opendkim:\n%s", msg)
	}
	// Verify with dkimpy, the public key given by a stub DNS lookup.
	_, msg, _ = strings.Cut(msg, "\n") // the mbox From_ line
	verify := `import sys, dkim
msg = sys.stdin.buffer.read().replace(b"\n", b"\r\n")
ok = dkim.verify(msg, dnsfunc=lambda name, timeout=5: sys.argv[1].encode())
print("verified" if ok else "failed")`
	check := func(msg string) {
		t.Helper()
		cmd := exec.Command("/usr/bin/python3", "-c", verify, record)
		cmd.Stdin = strings.NewReader(msg)
		res, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(res)) != "verified" {
			t.Errorf("dkimpy: %v %s\nrecord %s\nmessage:\n%s", err, res, record, msg)
		}
	}
	check(msg)
	// Mail from sendmail goes through non_smtpd_milters.
	if code, out := in.sendmail("From: Alice <alice@example.tst>\nSubject: from cron\n\nsigned local mail\n", "-f", "alice@example.tst", rcpt); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitMbox(rcpt, "signed local mail")
	msgs = mboxMessages(in.mbox(rcpt))
	local := msgs[len(msgs)-1]
	if !strings.Contains(local, "DKIM-Signature: ") {
		t.Fatalf("sendmail's message is not signed:\n%s", local)
	}
	_, local, _ = strings.Cut(local, "\n")
	check(local)
}

// TestMilterDownDefaultAction: a milter that can't be reached gets
// milter_default_action: tempfail defers the message, accept lets it in.
func TestMilterDownDefaultAction(t *testing.T) {
	rcpt := localUser(t)
	dead := "unix:" + filepath.Join(readableTempDir(t), "no-milter-here")
	in, _ := smtpdInstance(t, "smtpd_milters = "+dead)
	send := func() (string, error) {
		return swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "alice@example.tst", "--to", rcpt+"@example.tst", "--body", "milter down")
	}
	if out, err := send(); err == nil || !strings.Contains(out, "<** 451 4.7.1 Service unavailable - try again later") {
		t.Errorf("tempfail: %v\n%s", err, out)
	}
	in.appendMain("milter_default_action = accept")
	in.run("tern", "reload")
	waitFor(t, deliveryTimeout, "the reloaded smtpd to accept", func() bool {
		_, err := send()
		return err == nil
	})
	in.waitMbox(rcpt, "milter down")
}
