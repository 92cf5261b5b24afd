package regexpmap

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parse compiles table text or fails the test.
func parse(t *testing.T, text string, pcre bool) *Table {
	t.Helper()
	tbl, err := Parse("x:t", "t", strings.NewReader(text), pcre)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return tbl
}

type lookupCase struct {
	name  string
	table string
	key   string
	want  string
	found bool
}

// runLookups checks every case against the given table flavor.
func runLookups(t *testing.T, cases []lookupCase, pcre bool) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tbl := parse(t, c.table, pcre)
			got, found, err := tbl.Lookup(c.key)
			if err != nil || got != c.want || found != c.found {
				t.Fatalf("Lookup(%q) = %q, %v, %v; want %q, %v", c.key, got, found, err, c.want, c.found)
			}
		})
	}
}

// commonCases behave the same in regexp: and pcre: tables.
var commonCases = []lookupCase{
	{"simple", "/^foo/ REJECT\n", "foobar", "REJECT", true},
	{"no match", "/^foo/ REJECT\n", "barfoo", "", false},
	{"first match wins", "/a/ one\n/ab/ two\n", "ab", "one", true},
	{"second rule", "/x/ one\n/ab/ two\n", "ab", "two", true},
	{"case-insensitive by default", "/^FOO$/ yes\n", "foo", "yes", true},
	{"i flag turns it off", "/^FOO$/i yes\n", "foo", "", false},
	{"i flag keeps exact case", "/^FOO$/i yes\n", "FOO", "yes", true},
	{"ii toggles back", "/^FOO$/ii yes\n", "foo", "yes", true},
	{"negated", "!/^foo/ not-foo\n", "bar", "not-foo", true},
	{"negated no match", "!/^foo/ not-foo\n", "foo", "", false},
	{"double negation", "!!/^foo/ foo\n", "foo", "foo", true},
	{"space after negation", "! /^foo/ not\n", "bar", "not", true},
	{"substitution", "/^(\\w+)@(\\w+)$/ user=$1 domain=${2}\n", "joe@example", "user=joe domain=example", true},
	{"paren reference", "/^(a)/ $(1)x\n", "a", "ax", true},
	{"dollar dollar", "/^(a)/ $$1 costs $$\n", "a", "$1 costs $", true},
	{"unmatched group is empty", "/^(a)|(b)$/ [$1][$2]\n", "b", "[][b]", true},
	{"comments and blanks", "# c\n\n   \n  # indented comment\n/a/ yes\n", "a", "yes", true},
	{"continuation", "/^a/\n  REJECT\n  spam\n", "a", "REJECT  spam", true},
	{"trailing blanks trimmed", "/a/ yes  \t\r\n", "a", "yes", true},
	{"empty result", "/a/\n", "a", "", true},
	{"other delimiter", "|^a/b|  path\n", "a/b", "path", true},
	{"escaped delimiter", "/^a\\/b$/ slash\n", "a/b", "slash", true},
	{"escaped comma delimiter", ",^a\\,b$, x\n", "a,b", "x", true},
	{"letter delimiter after if", "if xfoox\n/./ in\nendif\n", "foo", "in", true},
	{"if matches", "if /^a/\n/b$/ ab\nendif\n/./ other\n", "axb", "ab", true},
	{"if skips", "if /^a/\n/b$/ ab\nendif\n/./ other\n", "xb", "other", true},
	{"if negated", "if !/^a/\n/./ not-a\nendif\n", "b", "not-a", true},
	{"if negated skips", "if !/^a/\n/./ not-a\nendif\n", "a", "", false},
	{"nested if", "IF /a/\nif /b/\n/c/ abc\nendif\n/./ a-only\nEndIf\n", "ac", "a-only", true},
	{"nested if inner", "if /a/\nif /b/\n/c/ abc\nendif\nendif\n", "abc", "abc", true},
	{"if without space", "if/a/\n/./ yes\nendif\n", "a", "yes", true},
	{"key as given", "/^Subject: hi$/i yes\n", "Subject: hi", "yes", true},
	{"multi-digit group", "/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/ $10$1\n", "abcdefghij", "ja", true},
}

func TestLookupRegexp(t *testing.T) {
	runLookups(t, commonCases, false)
	runLookups(t, []lookupCase{
		{"leftmost-longest", "/(a|ab)/ $1\n", "ab", "ab", true},
		{"dot matches newline without m", "/^a.b$/ yes\n", "a\nb", "yes", true},
		{"m flag: line anchors", "/^b$/m yes\n", "a\nb", "yes", true},
		{"no m: whole-key anchors", "/^b$/ yes\n", "a\nb", "", false},
		{"m flag: dot stops at newline", "/a.b/m yes\n", "a\nb", "", false},
		{"xx keeps extended", "/^(a)+$/xx yes\n", "aa", "yes", true},
		{"posix class", "/^[[:digit:]]+$/ num\n", "123", "num", true},
	}, false)
}

func TestLookupPCRE(t *testing.T) {
	runLookups(t, commonCases, true)
	runLookups(t, []lookupCase{
		{"leftmost-first", "/(a|ab)/ $1\n", "ab", "a", true},
		{"dot stops at newline", "/^a.b$/ yes\n", "a\nb", "", false},
		{"s flag", "/^a.b$/s yes\n", "a\nb", "yes", true},
		{"m flag", "/^b$/m yes\n", "a\nb", "yes", true},
		{"U flag", "/^(a+)/U $1\n", "aaa", "a", true},
		{"greedy default", "/^(a+)/ $1\n", "aaa", "aaa", true},
		{"A flag anchors", "/b/A yes\n", "ab", "", false},
		{"A flag matches at start", "/a|b/A yes\n", "ab", "yes", true},
		{"E flag accepted", "/a$/E yes\n", "a", "yes", true},
		{"x flag strips space and comments", "/^ a  b # comment/x yes\n", "ab", "yes", true},
		{"x flag keeps escaped space and classes", "/^a\\ b[ ]c$/x yes\n", "a b c", "yes", true},
		{"empty group is empty", "/^a(x?)b$/ [$1]\n", "ab", "[]", true},
		{"lazy quantifier", "/^(a+?)/ $1\n", "aaa", "a", true},
		{"perl classes", "/^\\d+\\s\\w+$/ yes\n", "12 ab", "yes", true},
		{"named group", "/^(?P<n>a)(?<m>b)$/ $2$1\n", "ab", "ba", true},
	}, true)
}

type errCase struct {
	name  string
	table string
	want  string // the complete error text
}

// runErrors checks that each table fails to parse with the given error.
func runErrors(t *testing.T, cases []errCase, pcre bool) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("x:t", "/etc/tern/t", strings.NewReader(c.table), pcre)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded; want %q", c.table, c.want)
			}
			if err.Error() != c.want {
				t.Fatalf("Parse(%q) error:\n got %q\nwant %q", c.table, err.Error(), c.want)
			}
		})
	}
}

var commonErrors = []errCase{
	{"unknown option", "# c\n/a/ ok\n\n/a/k x\n", `/etc/tern/t:4: unknown regexp option "k"`},
	{"comma delimiter", ",^a,b$, x\n", `/etc/tern/t:1: unknown regexp option "b"`},
	{"no closing delimiter", "/abc x\n", `/etc/tern/t:1: no closing regexp delimiter "/"`},
	{"trailing backslash", "/abc\\", `/etc/tern/t:1: no closing regexp delimiter "/"`},
	{"missing group", "/(a)/ $2\n", `/etc/tern/t:1: out-of-range replacement index "2": the pattern has 1 group(s)`},
	{"group zero", "/(a)/ $0\n", `/etc/tern/t:1: out-of-range replacement index "0"`},
	{"non-numeric", "/(a)/ $a\n", `/etc/tern/t:1: non-numeric replacement index "a"`},
	{"lone dollar", "/(a)/ 5 $\n", `/etc/tern/t:1: empty replacement index after "$" in result text "5 $" (use "$$" for a literal "$")`},
	{"unclosed brace", "/(a)/ ${1\n", `/etc/tern/t:1: missing "}" in result text "${1"`},
	{"negated with substitution", "!/(a)/ $1\n", `/etc/tern/t:1: $number found in negative match replacement text`},
	{"endif without if", "/a/ b\nendif\n", `/etc/tern/t:2: ENDIF without matching IF`},
	{"if without endif", "if /a/\nif /b/\nendif\n", `/etc/tern/t:1: IF has no matching ENDIF`},
	{"extra after if", "if /a/ b\nendif\n", `/etc/tern/t:1: extra text after IF statement: "b"`},
	{"extra after endif", "if /a/\nendif x\n", `/etc/tern/t:2: extra text after ENDIF: "x"`},
	{"if without pattern", "if\nendif\n", `/etc/tern/t:1: IF: no regexp`},
	{"unrecognized", "REJECT /a/\n", `/etc/tern/t:1: unrecognized request "REJECT /a/": expected /pattern/, !/pattern/, IF or ENDIF`},
	{"leading whitespace", "  /a/ b\n", `/etc/tern/t:1: logical line must not start with whitespace`},
	{"line of continued rule", "/a/ b\n/(a)/\n  $3\n", `/etc/tern/t:2: out-of-range replacement index "3": the pattern has 1 group(s)`},
	{"backreference", "/(a)\\1/ x\n", `/etc/tern/t:1: %s construct "\1" (backreference) is not supported: tern uses Go's RE2 syntax`},
	{"lookahead", "/a(?=b)/ x\n", `/etc/tern/t:1: %s construct "(?=" (lookahead) is not supported: tern uses Go's RE2 syntax`},
	{"negative lookbehind", "/(?<!a)b/ x\n", `/etc/tern/t:1: %s construct "(?<!" (negative lookbehind) is not supported: tern uses Go's RE2 syntax`},
	{"bad regexp", "/a(/ x\n", "/etc/tern/t:1: regexp \"a(\": error parsing regexp: missing closing ): `a(`"},
}

// flavored fills in the table flavor in the expected error texts.
func flavored(cases []errCase, name string) []errCase {
	out := make([]errCase, len(cases))
	for i, c := range cases {
		out[i] = c
		if strings.Contains(c.want, "%s construct") {
			out[i].want = strings.Replace(c.want, "%s", name, 1)
		}
	}
	return out
}

func TestErrorsRegexp(t *testing.T) {
	runErrors(t, flavored(commonErrors, "regexp"), false)
	runErrors(t, []errCase{
		{"basic syntax", "/a/x b\n", `/etc/tern/t:1: POSIX basic regular expressions (flag "x" turned off) are not supported: tern accepts extended syntax only; remove the "x" flag`},
		{"pcre flag in regexp", "/a/s b\n", `/etc/tern/t:1: unknown regexp option "s"`},
		{"gnu word boundary", "/\\<a/ b\n", `/etc/tern/t:1: regexp construct "\<" (GNU word boundary; use \b) is not supported: tern uses Go's RE2 syntax`},
	}, false)
}

func TestErrorsPCRE(t *testing.T) {
	runErrors(t, flavored(commonErrors, "pcre"), true)
	refused := func(construct, what string) string {
		return `/etc/tern/t:1: pcre construct "` + construct + `" (` + what + `) is not supported: tern uses Go's RE2 syntax`
	}
	runErrors(t, []errCase{
		{"X flag", "/a/X b\n", `/etc/tern/t:1: pcre option "X" (PCRE_EXTRA) is not supported: tern uses Go's RE2 syntax, which already rejects unknown escapes`},
		{"atomic", "/(?>a+)b/ x\n", refused("(?>", "atomic group")},
		{"possessive star", "/a*+b/ x\n", refused("*+", "possessive quantifier")},
		{"possessive plus", "/[ab]++/ x\n", refused("++", "possessive quantifier")},
		{"possessive question", "/a?+/ x\n", refused("?+", "possessive quantifier")},
		{"possessive brace", "/a{2,3}+/ x\n", refused("{2,3}+", "possessive quantifier")},
		{"recursion", "/a(?R)?b/ x\n", refused("(?R)", "recursion")},
		{"numbered call", "/(a)(?1)/ x\n", refused("(?1", "subroutine call")},
		{"relative call", "/(a)(?-1)/ x\n", refused("(?-1", "subroutine call")},
		{"conditional", "/(a)?(?(1)b|c)/ x\n", refused("(?(", "conditional")},
		{"named backreference", "/(?<n>a)\\k<n>/ x\n", refused(`\k`, "named backreference")},
		{"g backreference", "/(a)\\g1/ x\n", refused(`\g`, "backreference or subroutine call")},
		{"verb", "/(*FAIL)/ x\n", refused("(*", "backtracking control verb")},
		{"lookahead in x mode", "/a (? = b)/x y\n", refused("(?=", "lookahead")},
		{"construct in if", "/a/ ok\nif /(?!a)/\nendif\n", `/etc/tern/t:2: pcre construct "(?!" (negative lookahead) is not supported: tern uses Go's RE2 syntax`},
	}, true)
}

// TestAccepted checks that look-alikes of refused constructs are accepted.
func TestAccepted(t *testing.T) {
	for _, text := range []string{
		"/a\\++/ x\n",        // escaped plus, then a quantifier
		"/[+*]+/ x\n",        // quantifier characters in a class
		"/[]+]+/ x\n",        // "]" first in a class
		"/[[:alpha:]]+/ x\n", // named class
		"/(?i)a+?/ x\n",      // flags group, lazy quantifier
		"/(?-i:a)/ x\n",      // negative flag group
		"/a{2}b/ x\n",        // counted repetition
		"/a{x}+/ x\n",        // literal brace, then a quantifier
		"/\\Q(?=\\E/ x\n",    // quoted text
		"/[(?=]/ x\n",        // class, not a group
		"/(?:a)(b)\\0/ x\n",  // octal escape, not a backreference
		"/(a)\\x41/ x\n",     // hex escape
		"/a # (?= /x x\n",    // comment in extended mode
		"/a\\ \\#b/x x\n",    // escaped space and hash in extended mode
	} {
		if _, err := Parse("pcre:t", "t", strings.NewReader(text), true); err != nil {
			t.Errorf("Parse(%q): %v", text, err)
		}
	}
}

func TestStripExtended(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"a b", "ab"},
		{"a\\ b", "a\\ b"},
		{"[ a ] b", "[ a ]b"},
		{"a # x\nb", "ab"},
		{"a # x", "a"},
		{"\\Q a \\E b", "\\Q a \\Eb"},
		{"\t(a)\n", "(a)"},
	} {
		if got := stripExtended(c.in); got != c.want {
			t.Errorf("stripExtended(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "header_checks")
	if err := os.WriteFile(path, []byte("/^Subject: .*viagra/ REJECT\n/^To: (.*)$/ WARN to $1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl, err := Open("pcre:"+path, path, true)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if tbl.Name() != "pcre:"+path {
		t.Errorf("Name() = %q", tbl.Name())
	}
	if v, ok, _ := tbl.Lookup("To: joe"); !ok || v != "WARN to joe" {
		t.Errorf("Lookup = %q, %v", v, ok)
	}
	if _, err := Open("regexp:/nonexistent", filepath.Join(t.TempDir(), "missing"), false); err == nil || !strings.Contains(err.Error(), "open regexp:/nonexistent") {
		t.Errorf("Open of a missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("/a/ b\n/a/k c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("regexp:"+bad, bad, false); err == nil || err.Error() != bad+`:2: unknown regexp option "k"` {
		t.Errorf("Open of a bad file: %v", err)
	}
}

// TestLongKey checks that a 100 KB key is searched in linear time.
func TestLongKey(t *testing.T) {
	table := "/^(.*)x(.*)y$/ $2$1\n/(a|aa)*b/ b\n/^(\\w+\\s*)+!$/ words\n/.*.*.*=.*/ eq\n/(x+x+)+y/ nested\n"
	for _, pcre := range []bool{false, true} {
		tbl := parse(t, table, pcre)
		key := strings.Repeat("a", 100<<10)
		start := time.Now()
		for i := 0; i < 3; i++ {
			if _, ok, _ := tbl.Lookup(key); ok {
				t.Fatalf("pcre=%v: long key matched", pcre)
			}
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("pcre=%v: three lookups of a 100 KB key took %v", pcre, d)
		}
		v, ok, _ := tbl.Lookup(key + "xy")
		if !ok || len(v) != len(key) {
			t.Fatalf("pcre=%v: long key with xy: found=%v len=%d", pcre, ok, len(v))
		}
	}
}

// TestManyContinuations checks that joining continuation lines is linear
// and that line numbers count every physical line.
func TestManyContinuations(t *testing.T) {
	var b strings.Builder
	b.WriteString("# header\n/^a$/ x\n")
	const n = 200000
	for i := 0; i < n; i++ {
		b.WriteString(" y\n")
	}
	b.WriteString("/(b)/ $2\n")
	start := time.Now()
	_, err := Parse("regexp:t", "t", strings.NewReader(b.String()), false)
	want := "t:" + strconv.Itoa(n+3) + `: out-of-range replacement index "2": the pattern has 1 group(s)`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %s", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("parsing %d continuation lines took %v", n, d)
	}
	tbl := parse(t, "/^a$/ x\n"+strings.Repeat(" y\n", 1000), false)
	if v, _, _ := tbl.Lookup("a"); v != "x"+strings.Repeat(" y", 1000) {
		t.Fatalf("joined result has length %d", len(v))
	}
}

// The table must fit the lookup table interface of package maps.
var _ interface {
	Lookup(key string) (string, bool, error)
	Name() string
	Close() error
} = (*Table)(nil)
