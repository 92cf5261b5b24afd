package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

// manDir is the repository's man/ directory, seen from this package.
const manDir = "../../man"

// TestTern5UpToDate regenerates tern(5) into a temporary file and fails
// when man/tern.5 differs: the page must always match the table.
func TestTern5UpToDate(t *testing.T) {
	tmp := filepath.Join(t.TempDir(), "tern.5")
	var stderr bytes.Buffer
	if code := run([]string{"-o", tmp}, &bytes.Buffer{}, &stderr); code != 0 {
		t.Fatalf("gen-manual exit %d: %s", code, stderr.String())
	}
	want, err := os.ReadFile(tmp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(manDir, "tern.5"))
	if err != nil {
		t.Fatalf("%v; run go generate ./cmd/gen-manual", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("man/tern.5 does not match the parameter table: run go generate ./cmd/gen-manual")
	}
}

// TestEveryParameterHasAnEntry checks that the page has one entry per
// parameter in the PARAMETERS section, with its default.
func TestEveryParameterHasAnEntry(t *testing.T) {
	var page bytes.Buffer
	if err := render(&page, config.Params(), isComputed); err != nil {
		t.Fatal(err)
	}
	_, all, ok := strings.Cut(page.String(), "\n.SH PARAMETERS\n")
	if !ok {
		t.Fatal("no PARAMETERS section")
	}
	for _, p := range config.Params() {
		entry := ".TP\n.B " + roffArg(p.Name) + "\n"
		if n := strings.Count(all, entry); n != 1 {
			t.Errorf("parameter %s: %d entries in PARAMETERS, want 1", p.Name, n)
		}
		if p.Default != "" && !strings.Contains(all, roffArg(p.Default)) {
			t.Errorf("parameter %s: default %q missing", p.Name, p.Default)
		}
	}
}

func TestTernOnlyNamesExist(t *testing.T) {
	for _, name := range ternOnlyNames {
		if _, ok := config.Lookup(name); !ok {
			t.Errorf("ternOnlyNames lists %s, which is not in the parameter table", name)
		}
	}
}

func TestRenderEntry(t *testing.T) {
	never := func(config.Param) bool { return false }
	always := func(config.Param) bool { return true }
	tests := []struct {
		name     string
		p        config.Param
		computed func(config.Param) bool
		want     []string
	}{
		{"plain default", config.Param{Name: "a_b", Default: "10s", Type: "time:s", Doc: "A thing."},
			never, []string{".B \"a_b\"\nA thing.\n.br\n", "Type: time (a number without a unit means seconds).", ".RB \"\" \"10s\" ."}},
		{"empty default", config.Param{Name: "x", Type: "list", Doc: "X."},
			never, []string{"Type: list.", "Default: empty."}},
		{"computed default", config.Param{Name: "myhostname", Type: "string", Doc: "Host."},
			always, []string{"Default: worked out"}},
		{"roff specials", config.Param{Name: "q", Default: `a"b\c`, Type: "string", Doc: `.dot \ back`},
			never, []string{"\n\\&.dot \\e back\n", `"a""b\ec"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := render(&b, []config.Param{tt.p}, tt.computed); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("page lacks %q", w)
				}
			}
		})
	}
}

func TestTypeText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bool", "boolean"},
		{"int", "integer"},
		{"size", "size in bytes"},
		{"list", "list"},
		{"map-list", "list of values and lookup tables"},
		{"time:d", "time (a number without a unit means days)"},
		{"time:x", "time"},
		{"string", "string"},
	}
	for _, tt := range tests {
		if got := typeText(tt.in); got != tt.want {
			t.Errorf("typeText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTextLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{".starts with a dot", `\&.starts with a dot`},
		{"'quote", `\&'quote`},
		{`a\b`, `a\eb`},
		{"two\nlines", "two lines"},
	}
	for _, tt := range tests {
		if got := textLine(tt.in); got != tt.want {
			t.Errorf("textLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"extra"}, 2},
		{[]string{"-bogus"}, 2},
		{[]string{"-o", filepath.Join("no", "such", "dir", "tern.5")}, 1},
	}
	for _, tt := range tests {
		if code := run(tt.args, &bytes.Buffer{}, &bytes.Buffer{}); code != tt.code {
			t.Errorf("run(%q) = %d, want %d", tt.args, code, tt.code)
		}
	}
	var out bytes.Buffer
	if code := run(nil, &out, &bytes.Buffer{}); code != 0 || !strings.HasPrefix(out.String(), `.\"`) {
		t.Errorf("run to stdout: exit %d, output starts %.20q", code, out.String())
	}
}

// manPages returns every page in man/.
func manPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join(manDir, "*.[1-8]"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pages) == 0 {
		t.Fatal("no manual pages in man/")
	}
	return pages
}

// TestManPagesLint runs mandoc's checker on every page; any message fails.
func TestManPagesLint(t *testing.T) {
	mandoc, err := exec.LookPath("mandoc")
	if err != nil {
		t.Skip("mandoc is not installed")
	}
	for _, page := range manPages(t) {
		out, err := exec.Command(mandoc, "-T", "lint", "-W", "warning", page).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("mandoc -T lint %s: %v\n%s", page, err, out)
		}
	}
}

// crossRef matches a reference to one of tern's own pages.
var crossRef = regexp.MustCompile(`(?m)^\.BR (tern(?:-[a-z]+)?|sendmail|mailq|newaliases|aliases|master) \(([1-8])\)`)

// TestCrossReferences checks that every reference to a tern page names a
// page that exists.
func TestCrossReferences(t *testing.T) {
	for _, page := range manPages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range crossRef.FindAllStringSubmatch(string(data), -1) {
			target := filepath.Join(manDir, m[1]+"."+m[2])
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s refers to %s(%s), which does not exist", filepath.Base(page), m[1], m[2])
			}
		}
	}
}

// FuzzTextLine checks that no text, however odd, can turn into a roff
// request or leave a lone backslash.
func FuzzTextLine(f *testing.F) {
	for _, s := range []string{"", ".TH x", "'br", `\fB`, "a\n.SH X", "\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := textLine(s)
		if strings.ContainsAny(out, "\n\r") {
			t.Fatalf("textLine(%q) = %q spans lines", s, out)
		}
		if strings.HasPrefix(out, ".") || strings.HasPrefix(out, "'") {
			t.Fatalf("textLine(%q) = %q starts a request", s, out)
		}
		rest := strings.TrimPrefix(out, `\&`)
		if strings.ReplaceAll(rest, `\e`, "") != strings.ReplaceAll(s, `\`, "") &&
			!strings.ContainsAny(s, "\n\r") {
			t.Fatalf("textLine(%q) = %q changes the text", s, out)
		}
	})
}
