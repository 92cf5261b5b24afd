package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pyBounceSubject prints the decoded Subject of the last message of an
// mbox and the text of its first text/plain part, as Python's email
// package reads them.
const pyBounceSubject = `
import mailbox, sys
from email.header import decode_header, make_header
msgs = list(mailbox.mbox(sys.argv[1]))
m = msgs[-1]
print(str(make_header(decode_header(m["Subject"]))))
print(m["From"])
for part in m.walk():
    if part.get_content_type() == "text/plain":
        print(part.get_payload(decode=True).decode(part.get_content_charset() or "us-ascii"))
        break
`

// TestBounceTemplateFile: bounce_template_file was warned about as having
// no effect. With a file in Postfix's bounce(5) form, a bounce has the
// template's Subject and text (with $myhostname expanded) before the
// recipient's reason, as Python's email package reads it; a bad file
// makes tern check exit 2 naming its line.
func TestBounceTemplateFile(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	sender := localUser(t)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	templates := filepath.Join(dir, "bounce.cf")
	body := "failure_template = <<EOF\nCharset: utf-8\nFrom: MAILER-DAEMON (Postmeister)\nSubject: Unzustellbar: Ihre Nachricht\n\n" +
		"Hier ist das Mailsystem von $myhostname.\nIhre Nachricht konnte nicht zugestellt werden.\nEOF\n"
	if err := os.WriteFile(templates, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, options{master: testMasterCF, main: []string{"bounce_template_file = " + templates}})
	in.start()
	if code, out := in.sendmail("Subject: lost\n\nto nobody\n", "-f", sender+"@example.tst", "nosuchuser@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitMbox(sender, "multipart/report")
	out, err := exec.Command(python, "-c", pyBounceSubject, filepath.Join(in.spool, sender)).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 4 || lines[0] != "Unzustellbar: Ihre Nachricht" || !strings.HasPrefix(lines[1], "MAILER-DAEMON@") ||
		!strings.HasSuffix(lines[1], "(Postmeister)") || !strings.HasPrefix(lines[2], "Hier ist das Mailsystem von ") ||
		!strings.Contains(string(out), "Ihre Nachricht konnte nicht zugestellt werden.\n\n<nosuchuser@example.tst>: unknown user") {
		t.Errorf("the bounce as Python reads it:\n%s", out)
	}

	bad := newInstance(t, options{master: testMasterCF, main: []string{"bounce_template_file = " + filepath.Join(dir, "bad.cf")}})
	if err := os.WriteFile(filepath.Join(dir, "bad.cf"), []byte("failure_template = <<EOF\nSubject: x\n\n$nosuchparam\nEOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := bad.command("tern", "check")
	msg, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(msg), filepath.Join(dir, "bad.cf")+":4: unknown parameter $nosuchparam") {
		t.Errorf("tern check with a bad template: %v\n%s", err, msg)
	}
}
