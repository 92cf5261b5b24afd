package message

import (
	"strings"
	"testing"
)

func TestParseAction(t *testing.T) {
	tests := []struct {
		in   string
		want Action
	}{
		{"REJECT", Action{Kind: ActionReject, Word: "REJECT"}},
		{"reject 5.7.0 no thanks", Action{Kind: ActionReject, Word: "reject", Text: "5.7.0 no thanks"}},
		{"WARN\tlook at this", Action{Kind: ActionWarn, Word: "WARN", Text: "look at this"}},
		{"INFO", Action{Kind: ActionInfo, Word: "INFO"}},
		{"IGNORE", Action{Kind: ActionIgnore, Word: "IGNORE"}},
		{"STRIP privacy", Action{Kind: ActionStrip, Word: "STRIP", Text: "privacy"}},
		{"DISCARD spam", Action{Kind: ActionDiscard, Word: "DISCARD", Text: "spam"}},
		{"HOLD", Action{Kind: ActionHold, Word: "HOLD"}},
		{"PREPEND X-Tag: yes", Action{Kind: ActionPrepend, Word: "PREPEND", Text: "X-Tag: yes"}},
		{"REPLACE Subject: [tagged]", Action{Kind: ActionReplace, Word: "REPLACE", Text: "Subject: [tagged]"}},
		{"DUNNO", Action{Kind: ActionDunno, Word: "DUNNO"}},
		{"OK", Action{Kind: ActionDunno, Word: "OK"}},
		{"", Action{Kind: ActionDunno}},
		{"REDIRECT a@b", Action{Kind: ActionRedirect, Word: "REDIRECT", Text: "a@b"}},
		{"FILTER scan:[127.0.0.1]:10024", Action{Kind: ActionFilter, Word: "FILTER", Text: "scan:[127.0.0.1]:10024"}},
		{"BCC a@b", Action{Kind: ActionUnsupported, Word: "BCC", Text: "a@b"}},
		{"550 nope", Action{Kind: ActionUnsupported, Word: "550", Text: "nope"}},
	}
	for _, tt := range tests {
		if got := ParseAction(tt.in); got != tt.want {
			t.Errorf("ParseAction(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	for s, want := range map[string]bool{"X-Tag: yes": true, "X-Tag:": true, "no colon": false, ": empty name": false, "Bad Name: x": false, "X: a\nb": false} {
		if got := ValidHeaderField(s); got != want {
			t.Errorf("ValidHeaderField(%q) = %v, want %v", s, got, want)
		}
	}
}

// FuzzParseAction: any table result parses; the action's text has no
// surrounding white space and its word is the result's first word.
func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"REJECT", "reject 5.7.1 x", "PREPEND X: y", "  WARN  a  ", "\t", "DISCARD\ttext"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := ParseAction(s)
		if a.Text != strings.TrimSpace(a.Text) || !strings.HasPrefix(strings.TrimSpace(s), a.Word) {
			t.Fatalf("ParseAction(%q) = %+v", s, a)
		}
	})
}
