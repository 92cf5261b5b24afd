package rewrite

import (
	"strings"
	"testing"
)

func headerSettings(t testing.TB) *Settings {
	t.Helper()
	return &Settings{
		Canonical: table(t, `{ joe@old.test=joe@new.test, @legacy.test=@new.test, { "john doe"@old.test=jd@new.test } }`),
	}
}

func TestHeaderLine(t *testing.T) {
	cases := []struct {
		name, header, in, want string
	}{
		{"display name kept", "From", ` "Joe Bloggs" <joe@old.test>`, ` "Joe Bloggs" <joe@new.test>`},
		{"comment kept", "From", ` joe@old.test (Joe Bloggs)`, ` joe@new.test (Joe Bloggs)`},
		{"bare address", "Reply-To", `joe@old.test`, `joe@new.test`},
		{"list", "To", ` a@x, "Joe" <joe@old.test>,bob@legacy.test`, ` a@x, "Joe" <joe@new.test>,bob@new.test`},
		{"group", "To", ` friends: joe@old.test, a@x;, b@legacy.test`, ` friends: joe@new.test, a@x;, b@new.test`},
		{"folding kept", "Cc", " Joe\r\n <joe@old.test>,\r\n\tbob@legacy.test", " Joe\r\n <joe@new.test>,\r\n\tbob@new.test"},
		{"source route", "Resent-To", ` <@relay.test,@r2.test:joe@old.test>`, ` <@relay.test,@r2.test:joe@new.test>`},
		{"quoted local part", "From", ` <"john doe"@old.test>`, ` <jd@new.test>`},
		{"quoted display name with specials", "From", ` "Bloggs, Joe <boss>" <joe@old.test>`, ` "Bloggs, Joe <boss>" <joe@new.test>`},
		{"case-insensitive name", "fROM", ` joe@old.test`, ` joe@new.test`},
		{"comment in angle kept", "To", ` Joe <(c) joe@old.test>`, ` Joe <(c) joe@new.test>`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := headerSettings(t)
			got, changed, err := s.HeaderLine(c.header, c.in)
			if err != nil || !changed || got != c.want {
				t.Errorf("HeaderLine(%q, %q) = %q, %v, %v; want %q", c.header, c.in, got, changed, err, c.want)
			}
		})
	}
}

func TestHeaderLineUnchanged(t *testing.T) {
	cases := []struct{ name, header, in string }{
		{"other header", "Subject", ` joe@old.test`},
		{"no mapped address", "To", ` a@x, "B" <b@y>`},
		{"address in comment", "To", ` (joe@old.test) a@x`},
		{"address in display name", "To", ` "joe@old.test" <a@x>`},
		{"empty group", "To", ` undisclosed-recipients:;`},
		{"null address", "Return-Path", ` <>`},
		{"unclosed quote", "From", ` "Joe <joe@old.test>`},
		{"unclosed comment", "From", ` joe@old.test (Joe`},
		{"unclosed angle", "From", ` Joe <joe@old.test`},
		{"stray angle", "From", ` joe@old.test>`},
		{"nested angle", "From", ` <<joe@old.test>>`},
		{"address split by whitespace", "From", ` joe @ old.test`},
		{"display name without angle", "To", ` Joe Bloggs`},
		{"empty", "To", ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := headerSettings(t)
			got, changed, err := s.HeaderLine(c.header, c.in)
			if err != nil || changed || got != c.in {
				t.Errorf("HeaderLine(%q, %q) = %q, %v, %v; want it unchanged", c.header, c.in, got, changed, err)
			}
		})
	}
}

func TestHeaderClasses(t *testing.T) {
	s := &Settings{
		SenderCanonical:    table(t, `{ a@x=sender@x }`),
		RecipientCanonical: table(t, `{ a@x=recip@x }`),
		MasqueradeDomains:  []string{"example.com"},
	}
	cases := []struct{ header, in, want string }{
		{"From", "a@x", "sender@x"},
		{"Sender", "a@x", "sender@x"},
		{"Resent-From", "a@x", "sender@x"},
		{"Mail-Followup-To", "a@x", "sender@x"},
		{"To", "a@x", "recip@x"},
		{"Bcc", "a@x", "recip@x"},
		{"Resent-Reply-To", "a@x", "recip@x"},
		{"Delivered-To", "a@x", "a@x"},
		{"To", "u@host.example.com", "u@example.com"},
		{"From", "u@host.example.com", "u@example.com"},
	}
	for _, c := range cases {
		got, _, err := s.HeaderLine(c.header, c.in)
		if err != nil || got != c.want {
			t.Errorf("HeaderLine(%q, %q) = %q, %v; want %q", c.header, c.in, got, err, c.want)
		}
	}
	s.MasqueradeClasses = map[Class]bool{HeaderSender: true}
	if got, _, _ := s.HeaderLine("To", "u@host.example.com"); got != "u@host.example.com" {
		t.Errorf("header_recipient masqueraded without its class: %q", got)
	}
	s.SenderCanonicalClasses = map[Class]bool{EnvelopeSender: true}
	if got, _, _ := s.HeaderLine("From", "a@x"); got != "a@x" {
		t.Errorf("header_sender rewritten without its class: %q", got)
	}
}

func TestHeaderLineError(t *testing.T) {
	s := &Settings{Canonical: failing(t)}
	got, changed, err := s.HeaderLine("From", " a@x")
	checkErr(t, err, KindLookup)
	if changed || got != " a@x" {
		t.Errorf("got %q, %v on error", got, changed)
	}
	// A header without addresses does no lookups and cannot fail.
	if _, _, err := s.HeaderLine("To", " undisclosed-recipients:;"); err != nil {
		t.Errorf("unexpected error %v", err)
	}
}

func FuzzHeaderLine(f *testing.F) {
	seeds := []string{
		` "Joe Bloggs" <joe@old.test>`,
		` joe@old.test (Joe), a@x`,
		` friends: joe@old.test, a@x;`,
		` <@r:joe@old.test>`,
		` "unterminated`,
		` (nested (comment) joe@old.test)`,
		` [1.2.3.4]@x, a@[1.2.3.4]`,
		" Joe\r\n <joe@old.test>",
		` <>`,
		`:;,<>@"\`,
		` "q\"uote" <a@x>`,
	}
	for _, s := range seeds {
		f.Add("To", s)
		f.Add("From", s)
	}
	s := headerSettings(f)
	f.Fuzz(func(t *testing.T, name, value string) {
		got, changed, err := s.HeaderLine(name, value)
		if err != nil {
			t.Fatalf("HeaderLine(%q, %q): %v", name, value, err)
		}
		if changed == (got == value) {
			t.Fatalf("HeaderLine(%q, %q) = %q, changed=%v", name, value, got, changed)
		}
		lower := strings.ToLower(value)
		if !strings.Contains(lower, "old.test") && !strings.Contains(lower, "legacy.test") && changed {
			t.Fatalf("HeaderLine(%q, %q) changed a header without a mapped address: %q", name, value, got)
		}
		if _, ok := HeaderClass(name); !ok && changed {
			t.Fatalf("header %q is not an address header but was changed", name)
		}
		// Rewriting is idempotent here: the results are not mapped again.
		if again, ch2, _ := s.HeaderLine(name, got); ch2 || again != got {
			t.Fatalf("second rewrite of %q changed it to %q", got, again)
		}
	})
}
