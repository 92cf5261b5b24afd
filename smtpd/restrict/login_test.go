package restrict

import (
	"context"
	"strings"
	"testing"
)

func TestSenderLoginMismatch(t *testing.T) {
	tests := []struct {
		restriction, login, sender, want string
	}{
		// reject_sender_login_mismatch: both halves, unknown senders too.
		{"reject_sender_login_mismatch", "alice", "alice@example.com", ""},
		{"reject_sender_login_mismatch", "ALICE", "Alice@Example.com", ""},
		{"reject_sender_login_mismatch", "bob", "team@example.com", ""},
		{"reject_sender_login_mismatch", "bob", "alice@example.com", "553 5.7.1 <alice@example.com>: Sender address rejected: not owned by user bob"},
		{"reject_sender_login_mismatch", "bob", "stranger@foreign.net", "553 5.7.1 <stranger@foreign.net>: Sender address rejected: not owned by user bob"},
		{"reject_sender_login_mismatch", "", "alice@example.com", "553 5.7.1 <alice@example.com>: Sender address rejected: not logged in"},
		{"reject_sender_login_mismatch", "", "stranger@foreign.net", ""},
		{"reject_sender_login_mismatch", "bob", "", ""}, // the null sender is never checked
		// One half each.
		{"reject_authenticated_sender_login_mismatch", "", "alice@example.com", ""},
		{"reject_authenticated_sender_login_mismatch", "bob", "stranger@foreign.net", "553 5.7.1 <stranger@foreign.net>: Sender address rejected: not owned by user bob"},
		{"reject_unauthenticated_sender_login_mismatch", "bob", "alice@example.com", ""},
		{"reject_unauthenticated_sender_login_mismatch", "", "alice@example.com", "553 5.7.1 <alice@example.com>: Sender address rejected: not logged in"},
		// Known senders only.
		{"reject_known_sender_login_mismatch", "bob", "stranger@foreign.net", ""},
		{"reject_known_sender_login_mismatch", "bob", "alice@example.com", "553 5.7.1 <alice@example.com>: Sender address rejected: not owned by user bob"},
		{"reject_known_sender_login_mismatch", "", "team@example.com", "553 5.7.1 <team@example.com>: Sender address rejected: not logged in"},
		// A table that can't be searched defers.
		{"reject_sender_login_mismatch", "alice", "broken@example.com", "451 4.3.0 <broken@example.com>: Temporary lookup failure"},
	}
	for _, tt := range tests {
		w := newWorld()
		c := newChecker(t, "smtpd_sender_restrictions = "+tt.restriction+"\n", w)
		f := foreignFacts()
		f.SASLUser, f.Sender = tt.login, tt.sender
		got := replyOf(c.Check(context.Background(), Rcpt, f))
		if got != tt.want {
			t.Errorf("%s, login %q, sender <%s>: got %q, want %q", tt.restriction, tt.login, tt.sender, got, tt.want)
		}
	}
}

// TestSenderLoginMismatchNeedsMaps: without smtpd_sender_login_maps the
// restriction is a configuration error, as a restriction that can't work
// must not pass silently.
func TestSenderLoginMismatchNeedsMaps(t *testing.T) {
	deps := newWorld().deps()
	deps.SenderOwners = nil
	_, err := New(parseConf(t, "smtpd_sender_restrictions = reject_sender_login_mismatch\n"), deps)
	if err == nil || !strings.Contains(err.Error(), "smtpd_sender_login_maps") {
		t.Errorf("New without login maps: %v", err)
	}
}
