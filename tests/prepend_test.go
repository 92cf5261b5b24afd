package tests

import (
	"path/filepath"
	"regexp"
	"testing"
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
