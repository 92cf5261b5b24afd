package rewrite

import (
	"errors"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

// table opens an inline: table, "{ a=b, ... }".
func table(t testing.TB, body string) []maps.Map {
	t.Helper()
	m, err := maps.Open("inline:"+body, maps.Options{})
	if err != nil {
		t.Fatalf("open inline:%s: %v", body, err)
	}
	t.Cleanup(func() { m.Close() })
	return []maps.Map{m}
}

// failing returns a table list whose lookups fail.
func failing(t testing.TB) []maps.Map {
	t.Helper()
	m, err := maps.Open("fail:broken", maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return []maps.Map{m}
}

// recorder is a table that records the keys it is asked for.
type recorder struct {
	name string
	keys *[]string
	data map[string]string
}

func (r recorder) Lookup(key string) (string, bool, error) {
	*r.keys = append(*r.keys, key)
	v, ok := r.data[strings.ToLower(key)]
	return v, ok, nil
}
func (r recorder) Name() string { return r.name }
func (r recorder) Close() error { return nil }

func localOnly(names ...string) func(string) (bool, error) {
	return func(d string) (bool, error) {
		for _, n := range names {
			if strings.EqualFold(n, d) {
				return true, nil
			}
		}
		return false, nil
	}
}

func TestLookupOrder(t *testing.T) {
	const all = `{ user+ext@example.com=full@x, user@example.com=bare@x, user+ext=localext@x, user=local@x, @example.com=domain@x }`
	cases := []struct {
		name, table, in, want string
		noPropagate           bool
	}{
		{"full address", all, "user+ext@example.com", "full@x", false},
		{"user@domain, extension propagated", `{ user@example.com=bare@x }`, "user+ext@example.com", "bare+ext@x", false},
		{"user@domain, extension dropped", `{ user@example.com=bare@x }`, "user+ext@example.com", "bare@x", true},
		{"user@domain beats local forms", all, "user+other@example.com", "bare+other@x", false},
		{"user+ext in a local domain", `{ user+ext=localext@x, user=local@x }`, "user+ext@local.test", "localext@x", false},
		{"user in a local domain", `{ user=local@x }`, "user+ext@local.test", "local+ext@x", false},
		{"user in a local domain, no extension", `{ user=local@x }`, "user@local.test", "local@x", false},
		{"user forms skipped in other domains", `{ user+ext=localext@x, user=local@x }`, "user+ext@other.test", "user+ext@other.test", false},
		{"@domain catch-all", all, "nobody+ext@example.com", "domain@x", false},
		{"@domain after user forms", `{ user=local@x, @local.test=domain@x }`, "user@local.test", "local@x", false},
		{"@domain result keeps user and extension", `{ @old.test=@new.test }`, "joe+ext@old.test", "joe+ext@new.test", false},
		{"@domain result of user@domain, extension propagated", `{ joe@old.test=@new.test }`, "joe+ext@old.test", "joe+ext@new.test", false},
		{"@domain result of user@domain, extension dropped", `{ joe@old.test=@new.test }`, "joe+ext@old.test", "joe@new.test", true},
		{"no domain: full", `{ user+ext=a@x, user=b@x }`, "user+ext", "a@x", false},
		{"no domain: user", `{ user=b@x }`, "user+ext", "b+ext@x", false},
		{"not found", `{ other@example.com=x@y }`, "user@example.com", "user@example.com", false},
		{"table case kept", `{ user@example.com=First.Last@Example.COM }`, "USER@EXAMPLE.COM", "First.Last@Example.COM", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Settings{Canonical: table(t, c.table), RecipientDelimiter: "+", LocalDomains: localOnly("local.test")}
			if c.noPropagate {
				s.PropagateUnmatched = map[string]bool{}
			}
			got, err := s.Sender(c.in)
			if err != nil || got != c.want {
				t.Errorf("Sender(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
}

func TestExtensionSplitting(t *testing.T) {
	cases := []struct {
		delim, in, want string
	}{
		{"+", "user+ext@example.com", "mapped+ext@x"},
		{"+-", "user-ext@example.com", "mapped-ext@x"},
		{"+-", "user+a-b@example.com", "mapped+a-b@x"},
		{"", "user+ext@example.com", "user+ext@example.com"}, // no delimiter: no extensions
		{"+", "+ext@example.com", "+ext@example.com"},        // empty user: not split
		{"-", "owner-user@example.com", "owner-user@example.com"},
		{"-", "user-request@example.com", "user-request@example.com"},
		{"+", "postmaster+x@example.com", "mapped+x@x"}, // only the exact name is reserved
	}
	for _, c := range cases {
		s := &Settings{
			Canonical:          table(t, `{ user@example.com=mapped@x, owner@example.com=wrong@x, postmaster@example.com=mapped@x }`),
			RecipientDelimiter: c.delim,
		}
		got, err := s.Recipient(c.in)
		if err != nil || got != c.want {
			t.Errorf("delimiter %q: Recipient(%q) = %q, %v; want %q", c.delim, c.in, got, err, c.want)
		}
	}
	s := &Settings{RecipientDelimiter: "+-"}
	for _, local := range []string{"postmaster", "MAILER-DAEMON", "double-bounce"} {
		if u, ext := s.SplitExtension(local); u != local || ext != "" {
			t.Errorf("SplitExtension(%q) = %q, %q; reserved names are not split", local, u, ext)
		}
	}
}

func TestPatternTableGetsFullAddressOnly(t *testing.T) {
	var keys []string
	re := recorder{name: "regexp:/etc/postfix/canonical.re", keys: &keys, data: map[string]string{}}
	s := &Settings{Canonical: []maps.Map{re}, RecipientDelimiter: "+", LocalDomains: localOnly("example.com")}
	if _, err := s.Sender("user+ext@example.com"); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != "user+ext@example.com" {
		t.Errorf("regexp table was asked %q; want only the full address", keys)
	}
	keys = keys[:0]
	hash := recorder{name: "hash:/etc/postfix/canonical", keys: &keys, data: map[string]string{}}
	s.Canonical = []maps.Map{hash}
	if _, err := s.Sender("user+ext@example.com"); err != nil {
		t.Fatal(err)
	}
	want := []string{"user+ext@example.com", "user@example.com", "user+ext", "user", "@example.com"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("hash table was asked %q; want %q", keys, want)
	}
}

func TestTableOrderWithinStep(t *testing.T) {
	// Each key is tried in every table before the next key.
	first := table(t, `{ @example.com=first@x }`)
	second := table(t, `{ joe@example.com=second@x }`)
	s := &Settings{Canonical: append(first, second...)}
	if got, _ := s.Sender("joe@example.com"); got != "second@x" {
		t.Errorf("got %q; want the user@domain match of the second table", got)
	}
}

func TestCanonicalRecursion(t *testing.T) {
	cases := []struct {
		name, table, in, want string
		kind                  Kind
	}{
		{"chain", `{ a@x=b@x, b@x=c@x }`, "a@x", "c@x", 0},
		{"maps to itself", `{ a@x=A@X }`, "a@x", "A@X", 0},
		{"loop", `{ a@x=b@x, b@x=a@x }`, "a@x", "", KindNesting},
		{"multi-valued keeps first", `{ {a@x=b@x, c@x} }`, "a@x", "b@x", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var warned []string
			s := &Settings{Canonical: table(t, c.table), Warn: func(m string) { warned = append(warned, m) }}
			got, err := s.Sender(c.in)
			checkErr(t, err, c.kind)
			if c.kind == 0 && got != c.want {
				t.Errorf("Sender(%q) = %q; want %q", c.in, got, c.want)
			}
			if strings.Contains(c.name, "multi") && len(warned) != 1 {
				t.Errorf("warnings %q; want one", warned)
			}
		})
	}
}

// checkErr checks that err is an *Error of kind, or nil when kind is 0.
func checkErr(t *testing.T, err error, kind Kind) {
	t.Helper()
	if kind == 0 {
		if err != nil {
			t.Errorf("unexpected error %v", err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != kind {
		t.Errorf("error %v; want kind %d", err, kind)
		return
	}
	if !e.Temporary() || !strings.Contains(e.Error(), "try again later") {
		t.Errorf("error %q is not a temporary failure", e.Error())
	}
}

func TestClasses(t *testing.T) {
	sender := table(t, `{ a@x=sender@x }`)
	recip := table(t, `{ a@x=recip@x }`)
	canon := table(t, `{ a@x=canon@x, sender@x=both@x }`)
	cases := []struct {
		name       string
		s          Settings
		wantSender string
		wantRecip  string
	}{
		{"sender and recipient tables", Settings{SenderCanonical: sender, RecipientCanonical: recip}, "sender@x", "recip@x"},
		{"sender table before canonical", Settings{SenderCanonical: sender, Canonical: canon}, "both@x", "canon@x"},
		{"canonical_classes empty", Settings{Canonical: canon, CanonicalClasses: map[Class]bool{}}, "a@x", "a@x"},
		{"canonical_classes envelope_recipient", Settings{Canonical: canon, CanonicalClasses: map[Class]bool{EnvelopeRecipient: true}}, "a@x", "canon@x"},
		{"sender_canonical_classes header only", Settings{SenderCanonical: sender, SenderCanonicalClasses: map[Class]bool{HeaderSender: true}}, "a@x", "a@x"},
		{"recipient table ignores sender class", Settings{RecipientCanonical: recip, RecipientCanonicalClasses: map[Class]bool{EnvelopeSender: true, EnvelopeRecipient: true}}, "a@x", "recip@x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got, err := c.s.Sender("a@x"); err != nil || got != c.wantSender {
				t.Errorf("Sender = %q, %v; want %q", got, err, c.wantSender)
			}
			if got, err := c.s.Recipient("a@x"); err != nil || got != c.wantRecip {
				t.Errorf("Recipient = %q, %v; want %q", got, err, c.wantRecip)
			}
		})
	}
}

func TestNullSenderNeverRewritten(t *testing.T) {
	m, err := maps.Open("static:someone@example.com", maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &Settings{Canonical: []maps.Map{m}, SenderCanonical: []maps.Map{m}, MasqueradeDomains: []string{"example.com"}}
	if got, err := s.Sender(""); err != nil || got != "" {
		t.Errorf("Sender(\"\") = %q, %v", got, err)
	}
	if got, _ := s.Sender("x@y"); got != "someone@example.com" {
		t.Errorf("static table not applied: %q", got)
	}
}

func TestLookupErrors(t *testing.T) {
	s := &Settings{Canonical: failing(t)}
	_, err := s.Sender("a@x")
	checkErr(t, err, KindLookup)
	if !errors.Is(err, maps.ErrLookup) {
		t.Errorf("error %v does not wrap the table's error", err)
	}
	var e *Error
	if errors.As(err, &e) {
		if code, dsn, _ := e.Status(); code != 451 || dsn != "4.3.0" {
			t.Errorf("Status = %d %s", code, dsn)
		}
	}
	s = &Settings{Canonical: table(t, `{ a@x=b@x }`), LocalDomains: func(string) (bool, error) { return false, maps.ErrLookup }}
	_, err = s.Recipient("nobody@x")
	checkErr(t, err, KindLookup)
	s = &Settings{Canonical: table(t, `{ a@x= }`)}
	_, err = s.Sender("a@x")
	checkErr(t, err, KindLookup)
}

func TestMasqueradeClasses(t *testing.T) {
	s := &Settings{MasqueradeDomains: []string{"example.com"}}
	if got, _ := s.Sender("u@host.example.com"); got != "u@example.com" {
		t.Errorf("envelope sender: %q", got)
	}
	if got, _ := s.Recipient("u@host.example.com"); got != "u@host.example.com" {
		t.Errorf("envelope recipient masqueraded by default: %q", got)
	}
	s.MasqueradeClasses = map[Class]bool{EnvelopeRecipient: true}
	if got, _ := s.Recipient("u@host.example.com"); got != "u@example.com" {
		t.Errorf("envelope recipient with envelope_recipient class: %q", got)
	}
	if got, _ := s.Sender("u@host.example.com"); got != "u@host.example.com" {
		t.Errorf("envelope sender without envelope_sender class: %q", got)
	}
}

func TestMasquerade(t *testing.T) {
	cases := []struct {
		domains, exceptions string
		in, want            string
	}{
		{"a.b.c b.c", "", "xxx@aa.a.b.c", "xxx@a.b.c"},
		{"a.b.c b.c", "xxx", "xxx@aa.a.b.c", "xxx@aa.a.b.c"},
		{"a.b.c b.c", "yyy", "xxx@aa.a.b.c", "xxx@a.b.c"},
		{"!a.b.c b.c", "", "xxx@aa.a.b.c", "xxx@aa.a.b.c"},
		{"!!a.b.c b.c", "", "xxx@aa.a.b.c", "xxx@a.b.c"},
		{"a.b.c b.c", "", "xxx@a.b.c", "xxx@a.b.c"},
		{"!a.b.c b.c", "", "xxx@a.b.c", "xxx@a.b.c"},
		{"a.b.c b.c", "", "xxx@aaa.b.c", "xxx@b.c"},
		{"a.b.c b.c", "", "xxx@b.c", "xxx@b.c"},
		{"b.c", "", "xxx@xb.c", "xxx@xb.c"},
		{"Example.COM", "", "Joe@Host.EXAMPLE.com", "Joe@example.com"},
		{"example.com", "root", "ROOT@host.example.com", "ROOT@host.example.com"},
		{"! example.com", "", "u@host.example.com", "u@example.com"}, // a lone "!" is skipped
		{"example.com", "", "nodomain", "nodomain"},
	}
	for _, c := range cases {
		s := &Settings{MasqueradeDomains: strings.Fields(c.domains), MasqueradeExceptions: map[string]bool{}}
		if c.domains == "! example.com" {
			s.MasqueradeDomains = []string{"!", "example.com"}
		}
		for _, e := range strings.Fields(c.exceptions) {
			s.MasqueradeExceptions[e] = true
		}
		got, err := s.Masquerade(c.in)
		if err != nil || got != c.want {
			t.Errorf("domains %q exceptions %q: Masquerade(%q) = %q, %v; want %q", c.domains, c.exceptions, c.in, got, err, c.want)
		}
	}
}

func TestMasqueradeExceptionTables(t *testing.T) {
	s := &Settings{MasqueradeDomains: []string{"example.com"}, MasqueradeExceptionMaps: table(t, `{ root=1 }`)}
	if got, _ := s.Masquerade("Root@host.example.com"); got != "Root@host.example.com" {
		t.Errorf("exception table ignored: %q", got)
	}
	if got, _ := s.Masquerade("joe@host.example.com"); got != "joe@example.com" {
		t.Errorf("got %q", got)
	}
	s.MasqueradeExceptionMaps = failing(t)
	_, err := s.Masquerade("joe@host.example.com")
	checkErr(t, err, KindLookup)
}

func TestParseClasses(t *testing.T) {
	set, err := ParseClasses("canonical_classes", "envelope_sender, Header_Recipient")
	if err != nil || len(set) != 2 || !set[EnvelopeSender] || !set[HeaderRecipient] {
		t.Errorf("got %v, %v", set, err)
	}
	if set, err := ParseClasses("masquerade_classes", ""); err != nil || set == nil || len(set) != 0 {
		t.Errorf("empty value: %v, %v", set, err)
	}
	_, err = ParseClasses("masquerade_classes", "envelope_sender, bogus")
	if err == nil || err.Error() != `unknown masquerade_classes value "bogus" in "envelope_sender, bogus"` {
		t.Errorf("error %v", err)
	}
	if p, err := ParsePropagate("canonical virtual,alias"); err != nil || !p["alias"] || p["forward"] {
		t.Errorf("ParsePropagate: %v %v", p, err)
	}
	if _, err := ParsePropagate("canonical, nope"); err == nil {
		t.Error("ParsePropagate accepted an unknown name")
	}
	for c := EnvelopeSender; c <= HeaderRecipient; c++ {
		if got, ok := classByName(c.String()); !ok || got != c {
			t.Errorf("class %d round trip: %v %v", c, got, ok)
		}
	}
	if Class(9).String() != "Class(9)" {
		t.Errorf("Class(9).String() = %q", Class(9).String())
	}
}
