package milters

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/d--j/go-milter"
)

// TestConversationStages: a Conversation talks to a milter as the SMTP
// commands come: a recipient refused at RCPT, the next transaction in the
// same session after an abort, the content at the end, and a milter that
// accepts a message asked nothing more about it.
func TestConversationStages(t *testing.T) {
	var seen []string
	addr := startTestMilter(t, func() *testMilter {
		return &testMilter{seen: &seen, rcpt: func(rcpt string) (*milter.Response, error) {
			switch rcpt {
			case "<trap@example.org>":
				return milter.RejectWithCodeAndReason(550, "5.7.9 spam trap")
			case "<vip@example.org>":
				return milter.RespAccept, nil
			}
			return milter.RespContinue, nil
		}}
	})
	conv := Start([]*Conf{testConf(t, addr)}, milterTestClient, milter.NewMacroBag(), t.Errorf)
	defer conv.Close()
	if r := conv.Helo("helo.example.org"); !r.IsZero() {
		t.Fatalf("helo: %v", r)
	}
	// A transaction abandoned after a refused recipient.
	if r, _ := conv.Mail("alice@example.org", "BODY=8BITMIME"); !r.IsZero() {
		t.Fatalf("mail: %v", r)
	}
	if r, _ := conv.Rcpt("trap@example.org", ""); r.String() != "550 5.7.9 spam trap" {
		t.Errorf("rcpt: %q, want the milter's refusal", r.String())
	}
	conv.EndTransaction()
	// The next one, with content.
	if r, _ := conv.Mail("bob@example.org", ""); !r.IsZero() {
		t.Fatalf("second mail: %v", r)
	}
	if r, _ := conv.Rcpt("carol@example.org", ""); !r.IsZero() {
		t.Fatalf("rcpt: %v", r)
	}
	msg := testMessage(t, "Subject: hi\r\n\r\nline\r\n", "carol@example.org")
	if r := conv.Content(msg); !r.IsZero() {
		t.Fatalf("content: %v", r)
	}
	// A third, which the milter accepts at RCPT: no content for it.
	conv.Mail("dave@example.org", "")
	conv.Rcpt("vip@example.org", "")
	if r := conv.Content(testMessage(t, "Subject: vip\r\n\r\nnot shown\r\n", "vip@example.org")); !r.IsZero() {
		t.Fatalf("vip content: %v", r)
	}
	got := strings.Join(seen, "\n")
	want := "connect client.example.org 192.0.2.7\nhelo helo.example.org\nmail <alice@example.org>\nrcpt <trap@example.org>\n" +
		"mail <bob@example.org>\nrcpt <carol@example.org>\nheader Subject: hi\nbody line\neom\nmail <dave@example.org>\nrcpt <vip@example.org>"
	if got != want {
		t.Errorf("the milter saw:\n%s\nwant:\n%s", got, want)
	}
}

// TestConversationDefaultAction: a milter that cannot be reached gets
// milter_default_action for the session: tempfail refuses MAIL with 451
// 4.7.1, accept lets the mail through without it.
func TestConversationDefaultAction(t *testing.T) {
	dead := "unix:" + filepath.Join(t.TempDir(), "none")
	for _, tt := range []struct{ action, want string }{{"tempfail", "451 4.7.1 Service unavailable - try again later"}, {"accept", ""}} {
		cfg := parseMain(t, "smtpd_milters = "+dead+"\nmilter_default_action = "+tt.action+"\n")
		ms, err := Open(cfg, "smtpd_milters")
		if err != nil {
			t.Fatal(err)
		}
		var warned error
		conv := Start(ms, milterTestClient, milter.NewMacroBag(), func(f string, a ...any) { warned = errors.New(f) })
		r, _ := conv.Mail("alice@example.org", "")
		if r.String() != tt.want && !(tt.want == "" && r.IsZero()) {
			t.Errorf("%s: MAIL got %q, want %q", tt.action, r.String(), tt.want)
		}
		if warned == nil {
			t.Errorf("%s: no warning", tt.action)
		}
		conv.Close()
	}
}
