package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSenderLoginMismatch: with smtpd_sender_login_maps and
// reject_sender_login_mismatch, an authenticated user may send only as
// the addresses the table gives them, and an address that has an owner
// can't be used without logging in, as in Postfix submission set-ups.
func TestSenderLoginMismatch(t *testing.T) {
	logins := filepath.Join(readableTempDir(t), "sender-logins")
	writeFile(t, logins, "alice@example.tst alice\nteam@example.tst bob, alice\n")
	in, _ := smtpdInstance(t, "smtpd_sender_login_maps = texthash:"+logins,
		"smtpd_sender_restrictions = reject_sender_login_mismatch")
	submission := []string{"--server", in.smtpAddr("127.0.0.2:0"), "--tls",
		"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wonderland",
		"--to", "friend@elsewhere.tst", "--quit-after", "RCPT"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"own address", append(submission, "--from", "alice@example.tst"), "250 2.1.5 Ok"},
		{"shared address", append(submission, "--from", "team@example.tst"), "250 2.1.5 Ok"},
		{"someone else's", append(submission, "--from", "bob@example.tst"),
			"553 5.7.1 <bob@example.tst>: Sender address rejected: not owned by user alice"},
		{"owned, not logged in", []string{"--server", in.smtpAddr("127.0.0.1:0"), "--from", "alice@example.tst",
			"--to", "friend@elsewhere.tst", "--quit-after", "RCPT"},
			"553 5.7.1 <alice@example.tst>: Sender address rejected: not logged in"},
	} {
		out, _ := swaks(t, tc.args...)
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s: want %q\n%s", tc.name, tc.want, out)
		}
	}
	if !strings.Contains(in.log(), "reject: RCPT from localhost[127.0.0.1]: 553 5.7.1 <bob@example.tst>: Sender address rejected: not owned by user alice; from=<bob@example.tst> to=<friend@elsewhere.tst>") {
		t.Errorf("no reject line for the mismatch:\n%s", in.log())
	}
}
