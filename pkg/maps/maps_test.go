package maps

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to name in dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildMap writes a postmap source file and builds it.
func buildMap(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := writeFile(t, dir, name, content)
	if _, err := Build("hash", p, false, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustOpen(t *testing.T, spec string) Map {
	t.Helper()
	m, err := Open(spec, Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", spec, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type lookupCase struct {
	key, value string
	found      bool
}

func checkLookups(t *testing.T, m Map, cases []lookupCase) {
	t.Helper()
	for _, c := range cases {
		v, ok, err := m.Lookup(c.key)
		if err != nil {
			t.Errorf("%s: Lookup(%q): %v", m.Name(), c.key, err)
			continue
		}
		if ok != c.found || v != c.value {
			t.Errorf("%s: Lookup(%q) = %q, %v; want %q, %v", m.Name(), c.key, v, ok, c.value, c.found)
		}
	}
}

func TestOpenTypes(t *testing.T) {
	dir := t.TempDir()
	src := buildMap(t, dir, "virtual", "Foo@Example.COM  Bar@Example.org\nkey value\n")
	text := writeFile(t, dir, "text", "Alpha Beta Gamma\n")
	tests := []struct {
		spec  string
		cases []lookupCase
	}{
		{"hash:" + src, []lookupCase{{"foo@example.com", "Bar@Example.org", true}, {"FOO@EXAMPLE.COM", "Bar@Example.org", true}, {"nope", "", false}}},
		{"btree:" + src, []lookupCase{{"KEY", "value", true}, {"foo", "", false}}},
		{"texthash:" + text, []lookupCase{{"alpha", "Beta Gamma", true}, {"ALPHA", "Beta Gamma", true}, {"beta", "", false}}},
		{"inline:{ A=B, { c = d e, f } }", []lookupCase{{"a", "B", true}, {"C", "d e, f", true}, {"x", "", false}}},
		{"static:OK", []lookupCase{{"anything", "OK", true}, {"", "OK", true}}},
		{"static:{ text with spaces }", []lookupCase{{"x", "text with spaces", true}}},
		{"unionmap:{ inline:{a=1, b=2}, static:S, inline:{ a=3 } }", []lookupCase{{"a", "1,S,3", true}, {"B", "2,S", true}, {"z", "S", true}}},
		{"unionmap:{inline:{a=1}}", []lookupCase{{"b", "", false}}},
		{"pipemap:{ inline:{a=b, c=d}, inline:{b=final} }", []lookupCase{{"a", "final", true}, {"c", "", false}, {"x", "", false}}},
	}
	for _, tt := range tests {
		m := mustOpen(t, tt.spec)
		if m.Name() != tt.spec {
			t.Errorf("Name() = %q, want %q", m.Name(), tt.spec)
		}
		checkLookups(t, m, tt.cases)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		spec, want string
	}{
		{"regexp:/nonexistent/x", "no such file"},
		{"mysql:/nonexistent/x.cf", "no such file"},
		{"noscheme", `expecting "type:name"`},
		{":x", `expecting "type:name"`},
		{"hash:" + filepath.Join(dir, "missing"), "open database"},
		{"texthash:" + filepath.Join(dir, "missing"), "no such file"},
		{"inline:a=b", "syntax error"},
		{"static:{ x", "syntax error"},
		{"unionmap:inline:{a=b}", "syntax error"},
		{"unionmap:{ }", "empty table list"},
		{"pipemap:inline:{a=b}", "syntax error: need \"pipemap:{type:name...}\""},
		{"unionmap:{ inline:{a=b}, nosuch:/x }", `unsupported lookup table type "nosuch"`},
	}
	for _, tt := range tests {
		m, err := Open(tt.spec, Options{})
		if err == nil {
			m.Close()
			t.Errorf("Open(%q) succeeded", tt.spec)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%q) error %q does not contain %q", tt.spec, err, tt.want)
		}
	}
}

func TestFailMap(t *testing.T) {
	m := mustOpen(t, "fail:broken")
	if _, _, err := m.Lookup("x"); !errors.Is(err, ErrLookup) {
		t.Errorf("fail: lookup error = %v, want ErrLookup", err)
	}
	u := mustOpen(t, "unionmap:{static:a, fail:x}")
	if _, _, err := u.Lookup("x"); !errors.Is(err, ErrLookup) {
		t.Errorf("unionmap with fail: error = %v, want ErrLookup", err)
	}
}

func TestOpenListAndLookupFirst(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "aliases", "root: admin\nPostmaster: root\n")
	if _, err := Build("hash", a, true, nil); err != nil {
		t.Fatal(err)
	}
	ms, warnings, err := OpenList([]string{"hash:" + a, " ", "nis:mail.aliases", "inline:{ root=other, x=y }"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ms)
	if len(ms) != 2 || len(warnings) != 1 || !strings.Contains(warnings[0], "nis") {
		t.Fatalf("OpenList: %d maps, warnings %q", len(ms), warnings)
	}
	tests := []lookupCase{{"ROOT", "admin", true}, {"postmaster", "root", true}, {"x", "y", true}, {"@", "@", true}, {"none", "", false}}
	for _, c := range tests {
		v, ok, err := LookupFirst(ms, c.key)
		if err != nil || ok != c.found || v != c.value {
			t.Errorf("LookupFirst(%q) = %q, %v, %v; want %q, %v", c.key, v, ok, err, c.value, c.found)
		}
	}
	failing := append([]Map{failMap{spec: "fail:x"}}, ms...)
	if _, _, err := LookupFirst(failing, "root"); err == nil {
		t.Error("LookupFirst did not stop at a failing table")
	}
	if _, _, err := OpenList([]string{"inline:{a=b}", "ldap:/x"}, Options{}); err == nil || !strings.Contains(err.Error(), `"ldap"`) {
		t.Errorf("OpenList with ldap: error = %v", err)
	}
}

func TestTexthashWarnings(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "t", "a 1\nbad\nA 2\n")
	ms, warnings, err := OpenList([]string{"texthash:" + p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ms)
	want := []string{p + ", line 2: expected format: key whitespace value", p + `, line 3: duplicate entry: "a"`}
	if strings.Join(warnings, "|") != strings.Join(want, "|") {
		t.Errorf("warnings = %q, want %q", warnings, want)
	}
	checkLookups(t, ms[0], []lookupCase{{"a", "1", true}})
}

func TestWalk(t *testing.T) {
	dir := t.TempDir()
	src := buildMap(t, dir, "m", "b 2\nA 1\nc 3\n")
	for _, spec := range []string{"hash:" + src, "inline:{b=2, A=1, c=3}"} {
		m := mustOpen(t, spec)
		w, ok := m.(Walker)
		if !ok {
			t.Fatalf("%s is not a Walker", spec)
		}
		var got []string
		if err := w.Walk(func(k, v string) error { got = append(got, k+"="+v); return nil }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, " ") != "a=1 b=2 c=3" {
			t.Errorf("%s: Walk = %q", spec, got)
		}
	}
}

func TestClosedLookup(t *testing.T) {
	dir := t.TempDir()
	src := buildMap(t, dir, "m", "a 1\n")
	m, err := Open("hash:"+src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Lookup("a"); err == nil {
		t.Error("lookup on a closed table succeeded")
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStaleWarning(t *testing.T) {
	dir := t.TempDir()
	src := buildMap(t, dir, "m", "a 1\n")
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(src, future, future); err != nil {
		t.Fatal(err)
	}
	ms, warnings, err := OpenList([]string{"hash:" + src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	CloseAll(ms)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "is older than source file") {
		t.Errorf("warnings = %q", warnings)
	}
	if _, err := Build("hash", src, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(src, time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	ms, warnings, err = OpenList([]string{"hash:" + src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	CloseAll(ms)
	if len(warnings) != 0 {
		t.Errorf("warnings after rebuild = %q", warnings)
	}
}

// TestPatternTableTypes opens regexp:, pcre: and cidr: tables through the
// registry, as main.cf names them.
func TestPatternTableTypes(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"re":   "/^(.*)@old\\.example$/ $1@new.example\n",
		"pcre": "/^postmaster@/ OK\n",
		"cidr": "192.0.2.0/24 REJECT\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct{ spec, key, want string }{
		{"regexp:" + filepath.Join(dir, "re"), "joe@old.example", "joe@new.example"},
		{"pcre:" + filepath.Join(dir, "pcre"), "PostMaster@x", "OK"},
		{"cidr:" + filepath.Join(dir, "cidr"), "192.0.2.7", "REJECT"},
	}
	for _, tt := range tests {
		m := mustOpen(t, tt.spec)
		if v, ok, err := m.Lookup(tt.key); err != nil || !ok || v != tt.want {
			t.Errorf("%s: Lookup(%q) = %q, %v, %v; want %q", tt.spec, tt.key, v, ok, err, tt.want)
		}
		if m.Name() != tt.spec {
			t.Errorf("Name() = %q, want %q", m.Name(), tt.spec)
		}
	}
}

func TestProxyAndUnixPasswd(t *testing.T) {
	m := mustOpen(t, "proxy:inline:{ a=b }")
	if v, ok, err := m.Lookup("A"); err != nil || !ok || v != "b" {
		t.Errorf("proxy:inline lookup = %q, %v, %v", v, ok, err)
	}
	pw := mustOpen(t, "proxy:unix:passwd.byname")
	if v, ok, err := pw.Lookup("root"); err != nil || !ok || !strings.HasPrefix(v, "root:x:0:0:") {
		t.Errorf("passwd.byname root = %q, %v, %v", v, ok, err)
	}
	if _, ok, err := pw.Lookup("nosuchuser"); err != nil || ok {
		t.Errorf("passwd.byname nosuchuser found=%v err=%v", ok, err)
	}
	if _, err := Open("unix:group.byname", Options{}); err == nil {
		t.Error("unix:group.byname opened")
	}
}

func TestAddressKeys(t *testing.T) {
	tests := []struct {
		local, domain, delim string
		isLocal              bool
		want                 string
	}{
		{"joe", "example.com", "", false, "joe@example.com @example.com"},
		{"joe", "example.com", "", true, "joe@example.com joe @example.com"},
		{"joe+tag", "example.com", "+", false, "joe+tag@example.com joe@example.com @example.com"},
		{"joe+tag", "example.com", "+-", true, "joe+tag@example.com joe@example.com joe+tag joe @example.com"},
		{"+tag", "example.com", "+", false, "+tag@example.com @example.com"},
	}
	for _, tt := range tests {
		got := strings.Join(AddressKeys(tt.local, tt.domain, tt.delim, tt.isLocal), " ")
		if got != tt.want {
			t.Errorf("AddressKeys(%q, %q, %q, %v) = %q, want %q", tt.local, tt.domain, tt.delim, tt.isLocal, got, tt.want)
		}
	}
}

func TestOpenSpecList(t *testing.T) {
	ms, _, err := OpenSpecList("inline:{ a=1 }, static:x", Options{})
	if err != nil || len(ms) != 2 {
		t.Fatalf("OpenSpecList = %d tables, %v; want 2", len(ms), err)
	}
	defer CloseAll(ms)
	if v, found, err := LookupFirst(ms, "b"); err != nil || !found || v != "x" {
		t.Errorf("lookup b = %q %v %v, want the static table's x", v, found, err)
	}
	if ms, _, err := OpenSpecList("  ", Options{}); ms != nil || err != nil {
		t.Errorf("an empty list: %v, %v; want nothing", ms, err)
	}
	if _, _, err := OpenSpecList("nosuchtype:x", Options{}); err == nil {
		t.Error("an unknown table type: no error")
	}
}

// TestInlinePatternTables: Postfix 3.7's inline form of the pattern
// tables, "regexp:{ {/pattern/ result}, ... }" (as in its default
// smtpd_forbidden_commands), was taken for a file name.
func TestInlinePatternTables(t *testing.T) {
	tests := []struct {
		spec, key, want string
		found           bool
	}{
		{"regexp:{{/^[^A-Z]/ Bogus}}", "12abc", "Bogus", true},
		{"regexp:{{/^[^A-Z]/ Bogus}}", "xyz", "", false},
		{"pcre:{ {/^Subject:.*buy/ REJECT spam}, {/^X-Mailer: bulk/ DISCARD} }", "X-Mailer: bulk 1.0", "DISCARD", true},
		{"cidr:{ {192.0.2.0/24 REJECT}, {10.0.0.0/8 OK} }", "10.1.2.3", "OK", true},
		{"cidr:{ {192.0.2.0/24 REJECT} }", "198.51.100.1", "", false},
	}
	for _, tt := range tests {
		m, err := Open(tt.spec, Options{})
		if err != nil {
			t.Fatalf("%s: %v", tt.spec, err)
		}
		got, found, err := m.Lookup(tt.key)
		if err != nil || found != tt.found || got != tt.want {
			t.Errorf("%s: Lookup(%q) = %q, %v, %v; want %q, %v", tt.spec, tt.key, got, found, err, tt.want, tt.found)
		}
		m.Close()
	}
	for _, bad := range []string{"regexp:{ {/(/ x} }", "cidr:{ {not-a-network x} }", "pcre:{ }"} {
		if _, err := Open(bad, Options{}); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
