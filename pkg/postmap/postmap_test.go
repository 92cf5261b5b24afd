package postmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// result is the outcome of one command run.
type result struct {
	code           int
	stdout, stderr string
}

func runMap(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	code := MapMain(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func runAlias(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	code := AliasMain(args, strings.NewReader(stdin), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setup writes a postmap source file and an empty config directory.
func setup(t *testing.T) (cfgDir, src string) {
	t.Helper()
	dir := t.TempDir()
	cfgDir = filepath.Join(dir, "etc")
	if err := os.Mkdir(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	src = filepath.Join(dir, "virtual")
	writeFile(t, src, "# virtual\nInfo@Example.com  alice\nsales@example.com bob,\n  carol\nbroken\n")
	return cfgDir, src
}

func TestMapCommand(t *testing.T) {
	cfg, src := setup(t)
	build := runMap(t, "", "-c", cfg, src)
	if build.code != 0 || !strings.Contains(build.stderr, "tern map: warning: "+src+", line 5: expected format: key whitespace value") {
		t.Fatalf("build: %+v", build)
	}
	if _, err := os.Stat(src + ".db"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout string
	}{
		{"query found", "", []string{"-q", "INFO@example.com", src}, 0, "alice\n"},
		{"query typed", "", []string{"-q", "sales@example.com", "hash:" + src}, 0, "bob,  carol\n"},
		{"query btree", "", []string{"-q", "sales@example.com", "btree:" + src}, 0, "bob,  carol\n"},
		{"query not found", "", []string{"-q", "nobody", src}, 1, ""},
		{"query several maps", "", []string{"-q", "x", "inline:{a=b}", "inline:{x=y}", src}, 0, "y\n"},
		{"query stdin", "info@example.com\nnone\nSALES@example.com\n", []string{"-q", "-", src}, 0,
			"info@example.com\talice\nSALES@example.com\tbob,  carol\n"},
		{"query stdin none", "a\nb\n", []string{"-q", "-", src}, 1, ""},
		{"query stdin several maps", "x\ninfo@example.com\r\nnone\nX\n", []string{"-q", "-", "inline:{x=y}", src}, 0,
			"x\ty\ninfo@example.com\talice\nX\ty\n"},
		{"query stdin order kept", "zzz\nsales@example.com\nINFO@example.com\nsales@example.com\n", []string{"-q", "-", src}, 0,
			"sales@example.com\tbob,  carol\nINFO@example.com\talice\nsales@example.com\tbob,  carol\n"},
		{"query inline", "", []string{"-q", "k", "inline:{ { k = v w } }"}, 0, "v w\n"},
		{"dump", "", []string{"-s", src}, 0, "info@example.com\talice\nsales@example.com\tbob,  carol\n"},
		{"nul flags", "", []string{"-N", "-n", "-q", "info@example.com", src}, 0, "alice\n"},
		{"bundled flags", "", []string{"-vs", src}, 0, "info@example.com\talice\nsales@example.com\tbob,  carol\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMap(t, tt.stdin, append([]string{"-c", cfg}, tt.args...)...)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Errorf("got %+v, want code %d stdout %q", r, tt.code, tt.stdout)
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	cfg, src := setup(t)
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"no files", []string{}, "usage:"},
		{"two modes", []string{"-s", "-q", "x", src}, "specify only one"},
		{"bad flag", []string{"-Z", src}, "unknown shorthand flag"},
		{"missing source", []string{filepath.Join(filepath.Dir(src), "none")}, "tern map: fatal:"},
		{"unsupported build type", []string{"regexp:" + src}, `unsupported table type for building: "regexp"`},
		{"unsupported query type", []string{"-q", "x", "ldap:" + src}, `unsupported lookup table type "ldap"`},
		{"no table file", []string{"-q", "x", src}, "open database"},
		{"query error", []string{"-q", "x", "fail:x"}, "query error"},
		{"dump unsupported", []string{"-s", "static:x"}, "sequence operation is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runMap(t, "", append([]string{"-c", cfg}, tt.args...)...)
			if r.code != 1 || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("got %+v, want code 1 and stderr containing %q", r, tt.stderr)
			}
		})
	}
}

func TestMapIncrementalDeleteAndDuplicates(t *testing.T) {
	cfg, src := setup(t)
	writeFile(t, src, "a 1\nb 2\nA 3\n")
	r := runMap(t, "", "-c", cfg, src)
	if r.code != 0 || !strings.Contains(r.stderr, `line 3: duplicate entry: "a"`) {
		t.Fatalf("build: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-r", src); r.code != 0 || r.stderr != "" {
		t.Fatalf("build -r: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-q", "a", src); r.stdout != "3\n" {
		t.Errorf("after -r: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-w", src); r.code != 0 || r.stderr != "" {
		t.Fatalf("build -w: %+v", r)
	}
	if r := runMap(t, "c 4\nd 5\n", "-c", cfg, "-i", src); r.code != 0 {
		t.Fatalf("-i: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-s", src); r.stdout != "a\t1\nb\t2\nc\t4\nd\t5\n" {
		t.Errorf("after -i: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-d", "B", src); r.code != 0 {
		t.Errorf("-d b: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-d", "b", src); r.code != 1 {
		t.Errorf("-d b again: %+v", r)
	}
	if r := runMap(t, "c\nzz\n", "-c", cfg, "-d", "-", src); r.code != 0 {
		t.Errorf("-d -: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-s", src); r.stdout != "a\t1\nd\t5\n" {
		t.Errorf("after -d: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-f", "-q", "A", src); r.code != 0 || !strings.Contains(r.stderr, "-f is not supported") {
		t.Errorf("-f: %+v", r)
	}
}

func TestDefaultDatabaseType(t *testing.T) {
	cfg, src := setup(t)
	writeFile(t, filepath.Join(cfg, "main.cf"), "default_database_type = btree\n")
	if r := runMap(t, "", "-c", cfg, src); r.code != 0 {
		t.Fatalf("build: %+v", r)
	}
	if r := runMap(t, "", "-c", cfg, "-q", "info@example.com", src); r.stdout != "alice\n" {
		t.Errorf("query: %+v", r)
	}
	writeFile(t, filepath.Join(cfg, "main.cf"), "default_database_type = cdb\n")
	if r := runMap(t, "", "-c", cfg, src); r.code != 1 || !strings.Contains(r.stderr, `"cdb"`) {
		t.Errorf("cdb build: %+v", r)
	}
}

func TestAliasCommand(t *testing.T) {
	cfg, _ := setup(t)
	src := filepath.Join(cfg, "aliases")
	writeFile(t, src, "# aliases\nPostmaster: root\nroot: admin,\n\t\"|/usr/bin/log, x\"\nbogus line\nuser@host: x\n")
	r := runAlias(t, "", "-c", cfg, src)
	if r.code != 0 || !strings.Contains(r.stderr, "line 5: need name:value pair") || !strings.Contains(r.stderr, "line 6: name must be local") {
		t.Fatalf("build: %+v", r)
	}
	tests := []struct {
		stdin  string
		args   []string
		code   int
		stdout string
	}{
		{"", []string{"-q", "postmaster", src}, 0, "root\n"},
		{"", []string{"-q", "@", src}, 0, "@\n"},
		{"ROOT\nnone\n", []string{"-q", "-", src}, 0, "ROOT:\tadmin,\t\"|/usr/bin/log, x\"\n"},
		{"", []string{"-s", src}, 0, "@:\t@\npostmaster:\troot\nroot:\tadmin,\t\"|/usr/bin/log, x\"\n"},
		{"", []string{"-q", "nobody", src}, 1, ""},
	}
	for _, tt := range tests {
		r := runAlias(t, tt.stdin, append([]string{"-c", cfg}, tt.args...)...)
		if r.code != tt.code || r.stdout != tt.stdout {
			t.Errorf("%v: got %+v, want code %d stdout %q", tt.args, r, tt.code, tt.stdout)
		}
	}
	if r := runAlias(t, "new: x\n", "-c", cfg, "-i", src); r.code != 0 {
		t.Fatalf("-i: %+v", r)
	}
	if r := runAlias(t, "", "-c", cfg, "-q", "new", src); r.stdout != "x\n" {
		t.Errorf("after -i: %+v", r)
	}
}

func TestNewaliases(t *testing.T) {
	cfg, _ := setup(t)
	a1 := filepath.Join(cfg, "aliases")
	a2 := filepath.Join(cfg, "more")
	writeFile(t, a1, "root: admin\n")
	writeFile(t, a2, "bad\nops: root\n")
	writeFile(t, filepath.Join(cfg, "main.cf"), "alias_database = hash:"+a1+", btree:"+a2+"\n")
	var out, errOut strings.Builder
	if code := NewaliasesMain([]string{"-c", cfg}, &out, &errOut); code != 0 {
		t.Fatalf("newaliases = %d, stderr %q", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "newaliases: warning: "+a2+", line 1: need name:value pair") {
		t.Errorf("stderr = %q", errOut.String())
	}
	for file, key := range map[string]string{a1: "root", a2: "ops"} {
		if r := runAlias(t, "", "-c", cfg, "-q", key, file); r.code != 0 {
			t.Errorf("lookup %s in %s: %+v", key, file, r)
		}
	}
	writeFile(t, filepath.Join(cfg, "main.cf"), "alias_database = lmdb:"+a1+", "+a2+"\n")
	errOut.Reset()
	if code := NewaliasesMain([]string{"-C", cfg}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), `"lmdb"`) {
		t.Errorf("newaliases with lmdb = %d, stderr %q", code, errOut.String())
	}
	if code := NewaliasesMain([]string{"--bogus"}, &out, &errOut); code != 1 {
		t.Errorf("bad flag: exit %d", code)
	}
}
