package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSMTPGenericMaps: a host whose own addresses are not valid on the
// Internet rewrites them on the way out with smtp_generic_maps (it was
// reported as having no effect), and strips an internal header with
// smtp_header_checks (an unknown parameter). The receiving suite sees
// the public address in MAIL FROM and in the header; the sender's log
// keeps the address the mail was queued with.
func TestSMTPGenericMaps(t *testing.T) {
	rcpt := localUser(t)
	checks := filepath.Join(t.TempDir(), "smtp_header_checks")
	if err := os.WriteFile(checks, []byte("/^X-Internal-Host:/ IGNORE\n/^Subject: (.*)$/ REPLACE Subject: [ext] $1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	receiver := newInstance(t, options{master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main: []string{"smtpd_error_sleep_time = 0"}})
	receiver.start()
	relay := "[127.0.0.1]:" + portOf(t, receiver.smtpAddr("127.0.0.1:0"))
	sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
		"relayhost = "+relay,
		"smtp_generic_maps = inline:{ {joe@sender.tst=joe.public@example.tst}, {@sender.tst=noreply@example.tst} }",
		"smtp_header_checks = regexp:"+checks,
		"smtp_bind_address = 127.0.0.2",
	)})
	sender.start()
	msg := "From: Joe <joe@sender.tst>\nCc: cron@sender.tst\nX-Internal-Host: build7.corp\nSubject: generic\n\nwritten by joe@sender.tst\n"
	if code, out := sender.sendmail(msg, "-f", "joe@sender.tst", rcpt+"@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	receiver.waitMbox(rcpt, "written by joe@sender.tst")
	mbox := receiver.mbox(rcpt)
	for _, want := range []string{"Return-Path: <joe.public@example.tst>", "From: Joe <joe.public@example.tst>", "Cc: noreply@example.tst",
		"Subject: [ext] generic", "written by joe@sender.tst"} {
		if !strings.Contains(mbox, want) {
			t.Errorf("the delivered message lacks %q:\n%s", want, mbox)
		}
	}
	if strings.Contains(mbox, "X-Internal-Host") {
		t.Errorf("smtp_header_checks IGNORE left the header in:\n%s", mbox)
	}
	// smtp_bind_address (which had no effect): the mail left from it.
	if !regexp.MustCompile(`connect from \S*\[127\.0\.0\.2\]`).MatchString(receiver.log()) {
		t.Errorf("the receiver saw no connection from 127.0.0.2:\n%s", receiver.log())
	}
	if !regexp.MustCompile(`from=<joe@sender\.tst>`).MatchString(sender.log()) {
		t.Errorf("the sender's log does not keep the queued address:\n%s", sender.log())
	}
}
