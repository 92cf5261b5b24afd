package tests

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccessPrependReachesTheMailbox: a PREPEND action of an access table
// puts its header above the Received header of the delivered message, as
// Postfix does (greylisting and tagging policies rely on it).
func TestAccessPrependReachesTheMailbox(t *testing.T) {
	rcpt := localUser(t)
	access := filepath.Join(readableTempDir(t), "sender-access")
	writeFile(t, access, "tagged@remote.tst PREPEND X-Tag: from a tagged sender\n")
	in, _ := smtpdInstance(t, "smtpd_sender_restrictions = check_sender_access texthash:"+access)
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "tagged@remote.tst",
		"--to", rcpt+"@example.tst", "--ehlo", "client.remote.tst", "--body", "tagged message")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "tagged message")
	if !regexp.MustCompile(`(?m)^X-Tag: from a tagged sender\nReceived: from client\.remote\.tst `).MatchString(in.mbox(rcpt)) {
		t.Errorf("no X-Tag header right above Received:\n%s", in.mbox(rcpt))
	}
}

// TestAccessHoldAndDiscard: a HOLD action queues the message on hold
// until the administrator releases it; a DISCARD action claims delivery
// and drops the message; a REDIRECT action delivers it elsewhere. Each is
// logged as Postfix logs it.
func TestAccessHoldAndDiscard(t *testing.T) {
	rcpt := localUser(t)
	access := filepath.Join(readableTempDir(t), "sender-access")
	writeFile(t, access, "suspect@remote.tst HOLD\nspammer@remote.tst DISCARD spam source\nredirected@remote.tst REDIRECT "+rcpt+"@example.tst\n")
	in, _ := smtpdInstance(t, "smtpd_sender_restrictions = check_sender_access texthash:"+access)
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "spammer@remote.tst", "--to", rcpt+"@example.tst",
		"--ehlo", "client.remote.tst", "--body", "discarded message")
	if err != nil || !strings.Contains(out, "<-  250 2.0.0 Ok\n") {
		t.Fatalf("discard: %v\n%s", err, out)
	}
	out, err = swaks(t, "--server", addr, "--from", "suspect@remote.tst", "--to", rcpt+"@example.tst",
		"--ehlo", "client.remote.tst", "--body", "held message")
	if err != nil || !strings.Contains(out, "250 2.0.0 Ok: queued as") {
		t.Fatalf("hold: %v\n%s", err, out)
	}
	in.waitLog("(queue hold)", 10*time.Second)
	log := in.log()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`NOQUEUE: discard: RCPT from \S+\[127\.0\.0\.1\]: <spammer@remote\.tst>: Sender address spam source; from=<spammer@remote\.tst> to=<` + rcpt + `@example\.tst> proto=ESMTP helo=<client\.remote\.tst>`),
		regexp.MustCompile(`NOQUEUE: hold: RCPT from \S+\[127\.0\.0\.1\]: <suspect@remote\.tst>: Sender address triggers HOLD action; from=<suspect@remote\.tst> to=<` + rcpt + `@example\.tst>`),
	} {
		if !want.MatchString(log) {
			t.Errorf("no line matching %s in the log:\n%s", want, log)
		}
	}
	if q := in.run("mailq"); strings.Count(q, "!") != 1 || !strings.Contains(q, "suspect@remote.tst") {
		t.Errorf("mailq does not show the held message alone:\n%s", q)
	}
	in.run("tern", "queue", "release", "ALL")
	in.waitMbox(rcpt, "held message")
	// REDIRECT: sent to postmaster, delivered to the table's address.
	out, err = swaks(t, "--server", addr, "--from", "redirected@remote.tst", "--to", "postmaster@example.tst",
		"--ehlo", "client.remote.tst", "--body", "redirected message")
	if err != nil {
		t.Fatalf("redirect: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "redirected message")
	if !regexp.MustCompile(`NOQUEUE: redirect: RCPT from \S+\[127\.0\.0\.1\]: <redirected@remote\.tst>: Sender address triggers REDIRECT ` + rcpt + `@example\.tst`).MatchString(in.log()) {
		t.Errorf("no redirect line in the log:\n%s", in.log())
	}
	if strings.Contains(in.mbox(rcpt), "discarded message") {
		t.Errorf("the discarded message was delivered")
	}
}
