package maps

import (
	"strings"
	"testing"
)

// checkEntries verifies the invariants every parsed entry must hold.
func checkEntries(t *testing.T, in string, entries []Entry, emptyValueOK bool) {
	t.Helper()
	lines := strings.Count(in, "\n") + 1
	last := 0
	for _, e := range entries {
		if e.Key == "" {
			t.Fatalf("empty key from %q", in)
		}
		if !emptyValueOK && e.Value == "" {
			t.Fatalf("empty value for %q from %q", e.Key, in)
		}
		if e.Value != strings.Trim(e.Value, whitespace) {
			t.Fatalf("untrimmed value %q from %q", e.Value, in)
		}
		if e.Line < 1 || e.Line > lines || e.Line <= last {
			t.Fatalf("bad line %d (previous %d, %d lines) from %q", e.Line, last, lines, in)
		}
		last = e.Line
	}
}

func FuzzParseSource(f *testing.F) {
	for _, s := range []string{"a b\n", "# c\n a\nb  c\n  d\n", "\"a b\" c\n", "\"a\\\"", "a:\tb\r\n", "\n\n\t\n", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, _, err := ParseSource(strings.NewReader(in), "f")
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, in, entries, false)
	})
}

func FuzzParseAliases(f *testing.F) {
	for _, s := range []string{"root: a, b\n", "\"x y\": z\n  w\n", "a@b: c\n", ":\n", "a,b: c", "\"\": x\n", "# c\n\tx\ny:z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, _, err := ParseAliases(strings.NewReader(in), "f")
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, in, entries, false)
	})
}

func FuzzParseInline(f *testing.F) {
	for _, s := range []string{"{ a=b, c=d }", "{ { a = b c, d } }", "{}", "{a=b}}", "{{a=b}", "{ =x }", "{a={b}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseInline(in)
		if err != nil {
			return
		}
		if len(entries) == 0 {
			t.Fatalf("no entries and no error from %q", in)
		}
		for _, e := range entries {
			if e.Key == "" || e.Key != strings.Trim(e.Key, whitespace) {
				t.Fatalf("bad key %q from %q", e.Key, in)
			}
		}
		if _, err := SplitSpecs(in); err != nil {
			t.Fatalf("SplitSpecs rejects valid inline table %q: %v", in, err)
		}
	})
}

// FuzzInlineRules: the inline form of the pattern tables turns into
// rule lines, one per braced element and never an empty table, or an
// error; and the regexp parser takes the lines without a panic.
func FuzzInlineRules(f *testing.F) {
	for _, s := range []string{"{{/^[^A-Z]/ Bogus}}", "{ {/a/ b}, {/c/ d} }", "{ }", "{{/(/ x}}", "{ {192.0.2.0/24 OK} }", "{{{}}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rules, ok, err := inlineRules(in)
		if !ok || err != nil {
			return
		}
		if rules == "" || !strings.HasSuffix(rules, "\n") {
			t.Fatalf("rules %q from %q", rules, in)
		}
		_, _ = Open("regexp:"+in, Options{})
		_, _ = Open("cidr:"+in, Options{})
	})
}
