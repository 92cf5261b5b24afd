package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHeaderAndBodyChecks: header_checks and body_checks from a regexp
// table, through the running suite: swaks gets 550 with the table's text
// at the end of DATA, sendmail gets an error, a tagged message is
// delivered with its header replaced, and cleanup logs as Postfix does.
func TestHeaderAndBodyChecks(t *testing.T) {
	rcpt := localUser(t)
	table := filepath.Join(readableTempDir(t), "checks")
	writeFile(t, table, `/^Subject: .*\bcasino\b/   REJECT 5.7.0 no gambling here
/^Subject: (.*)\[tag\]$/     REPLACE Subject: [tagged] $1
/^Content-(Type|Disposition): .*name="?[^"]*\.(exe|scr)"?/ REJECT executables are not accepted
/^click here to unsubscribe from spam/ REJECT body rejected
`)
	in, _ := smtpdInstance(t, "header_checks = regexp:"+table, "body_checks = regexp:"+table)
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--header", "Subject: best casino offers", "--body", "rejected by header")
	if err == nil || !strings.Contains(out, "<** 550 5.7.0 no gambling here") {
		t.Errorf("header reject: %v\n%s", err, out)
	}
	out, err = swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--attach-type", "application/octet-stream", "--attach-name", "invoice.exe", "--attach", "@/bin/true")
	if err == nil || !strings.Contains(out, "<** 550 5.7.1 executables are not accepted") {
		t.Errorf("attachment reject: %v\n%s", err, out)
	}
	if code, out := in.sendmail("Subject: hi\n\nclick here to unsubscribe from spam\n", rcpt); code == 0 || !strings.Contains(out, "body rejected") {
		t.Errorf("sendmail body reject: exit %d %s", code, out)
	}
	out, err = swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--header", "Subject: newsletter [tag]", "--body", "tagged body")
	if err != nil {
		t.Fatalf("tagged message: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "tagged body")
	m := in.mbox(rcpt)
	if !regexp.MustCompile(`(?m)^Subject: \[tagged\] newsletter\s*$`).MatchString(m) || strings.Contains(m, "rejected by header") || strings.Contains(m, "unsubscribe") {
		t.Errorf("mailbox:\n%s", m)
	}
	want := regexp.MustCompile(`tern/qmgr\[\d+\]: \w+: reject: header Subject: best casino offers from \S+\[127\.0\.0\.1\]; from=<a@remote\.tst> to=<` + rcpt + `@example\.tst> proto=ESMTP helo=<\S+>: 5\.7\.0 no gambling here`)
	if !want.MatchString(in.log()) {
		t.Errorf("no Postfix-style reject line:\n%s", in.log())
	}
}
