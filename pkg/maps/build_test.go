package maps

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestBuildDuplicates(t *testing.T) {
	tests := []struct {
		dup      DupMode
		want     string
		warnings []string
	}{
		{DupWarn, "1", []string{`SRC, line 3: duplicate entry: "a"`, `SRC, line 4: duplicate entry: "a"`}},
		{DupReplace, "3", nil},
		{DupIgnore, "1", nil},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		src := writeFile(t, dir, "m", "a 1\nb x\nA 2\na 3\n")
		warnings, err := BuildWith("hash", src, BuildOptions{Dup: tt.dup})
		if err != nil {
			t.Fatal(err)
		}
		want := make([]string, len(tt.warnings))
		for i, w := range tt.warnings {
			want[i] = strings.Replace(w, "SRC", src, 1)
		}
		if strings.Join(warnings, "|") != strings.Join(want, "|") {
			t.Errorf("dup mode %d: warnings = %q, want %q", tt.dup, warnings, want)
		}
		checkLookups(t, mustOpen(t, "hash:"+src), []lookupCase{{"a", tt.want, true}, {"b", "x", true}})
	}
}

func TestBuildAliases(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "aliases", "# aliases\nRoot: admin,\n  bob\nbad line\n\"Quoted Name\": x\n")
	var out strings.Builder
	warnings, err := Build("btree", src, true, &out)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "line 4: need name:value pair") {
		t.Errorf("warnings = %q", warnings)
	}
	if out.String() != warnings[0]+"\n" {
		t.Errorf("out = %q", out.String())
	}
	checkLookups(t, mustOpen(t, "hash:"+src), []lookupCase{
		{"root", "admin,  bob", true}, {"quoted name", "x", true}, {"@", "@", true}, {"bad", "", false}})
}

func TestBuildErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Build("hash", filepath.Join(dir, "missing"), false, nil); err == nil {
		t.Error("build of a missing source succeeded")
	}
	src := writeFile(t, dir, "m", "a b\n")
	if _, err := Build("cdb", src, false, nil); err == nil || !strings.Contains(err.Error(), `"cdb"`) {
		t.Errorf("build of type cdb: %v", err)
	}
	if _, err := Delete("regexp", src, []string{"a"}); err == nil {
		t.Error("delete from a regexp table succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("failed builds left files: %v", entries)
	}
}

func TestBuildPermissions(t *testing.T) {
	dir := t.TempDir()
	src := writeFile(t, dir, "m", "a b\n")
	if err := os.Chmod(src, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Build("hash", src, false, nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(DBPath(src))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("new table mode = %v, want 0640", fi.Mode().Perm())
	}
	if err := os.Chmod(DBPath(src), 0o604); err != nil {
		t.Fatal(err)
	}
	if _, err := Build("hash", src, false, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(DBPath(src)); fi.Mode().Perm() != 0o604 {
		t.Errorf("rebuilt table mode = %v, want the old 0604", fi.Mode().Perm())
	}
}

func TestIncrementalAndDelete(t *testing.T) {
	dir := t.TempDir()
	src := buildMap(t, dir, "m", "a 1\nb 2\n")
	warnings, err := BuildWith("hash", src, BuildOptions{Incremental: true, Source: strings.NewReader("c 3\nA 9\n"), SourceName: "-"})
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0] != `-, line 2: duplicate entry: "a"` {
		t.Errorf("warnings = %q", warnings)
	}
	checkLookups(t, mustOpen(t, "hash:"+src), []lookupCase{{"a", "1", true}, {"b", "2", true}, {"c", "3", true}})
	if _, err := BuildWith("hash", src, BuildOptions{Incremental: true, Dup: DupReplace, Source: strings.NewReader("a 9\n")}); err != nil {
		t.Fatal(err)
	}
	n, err := Delete("hash", src, []string{"B", "c", "zz"})
	if err != nil || n != 2 {
		t.Fatalf("Delete = %d, %v; want 2", n, err)
	}
	if n, err := Delete("hash", src, []string{"zz"}); err != nil || n != 0 {
		t.Fatalf("Delete(zz) = %d, %v; want 0", n, err)
	}
	checkLookups(t, mustOpen(t, "hash:"+src), []lookupCase{{"a", "9", true}, {"b", "", false}, {"c", "", false}})
	// incremental into a table that does not exist yet
	fresh := filepath.Join(dir, "fresh")
	if _, err := BuildWith("hash", fresh, BuildOptions{Incremental: true, Aliases: true, Source: strings.NewReader("x: y\n")}); err != nil {
		t.Fatal(err)
	}
	checkLookups(t, mustOpen(t, "hash:"+fresh), []lookupCase{{"x", "y", true}, {"@", "@", true}})
	if _, err := Delete("hash", filepath.Join(dir, "none"), []string{"x"}); err != nil {
		t.Errorf("Delete from a missing table: %v", err)
	}
}

func TestReopenAfterRebuild(t *testing.T) {
	dir := t.TempDir()
	src := buildMap(t, dir, "m", "k old\n")
	m := mustOpen(t, "hash:"+src)
	bm := m.(*boltMap)
	bm.checkInterval = time.Hour
	checkLookups(t, m, []lookupCase{{"k", "old", true}})
	buildMap(t, dir, "m", "k new\n")
	// within the check interval the old version is still used
	checkLookups(t, m, []lookupCase{{"k", "old", true}})
	bm.checkInterval = 0
	checkLookups(t, m, []lookupCase{{"k", "new", true}})
	// a missing file keeps the last good version
	if err := os.Remove(DBPath(src)); err != nil {
		t.Fatal(err)
	}
	checkLookups(t, m, []lookupCase{{"k", "new", true}})
}

// TestReopenThroughDirectoryHandle: a daemon chrooted after opening its
// tables (master.cf's chroot column) no longer reaches them by path, so a
// table rebuilt by newaliases or tern map stayed at its old version. The
// table keeps a handle on its directory: here the path goes away (the
// directory is renamed) and the rebuild there is still seen.
func TestReopenThroughDirectoryHandle(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	src := buildMap(t, dir, "aliases", "k old\n")
	m := mustOpen(t, "hash:"+src)
	m.(*boltMap).checkInterval = 0
	moved := filepath.Join(root, "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	buildMap(t, moved, "aliases", "k new\n")
	checkLookups(t, m, []lookupCase{{"k", "new", true}})
}

func TestAtomicRebuild(t *testing.T) {
	dir := t.TempDir()
	content := func(v string) string {
		var b strings.Builder
		for i := range 2000 {
			fmt.Fprintf(&b, "key%d %s%d\n", i, v, i)
		}
		return b.String()
	}
	src := buildMap(t, dir, "m", content("old"))
	m := mustOpen(t, "hash:"+src)
	m.(*boltMap).checkInterval = 0
	done := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 20 {
			v := []string{"old", "new"}[i%2]
			if err := os.WriteFile(src, []byte(content(v)), 0o644); err != nil {
				errs <- err
				return
			}
			if _, err := Build("hash", src, false, nil); err != nil {
				errs <- err
				return
			}
		}
	}()
	// a second reader shares m with the main loop, so that re-opens race
	// with lookups
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			if v, ok, err := m.Lookup("key7"); err != nil || !ok || (v != "old7" && v != "new7") {
				errs <- fmt.Errorf("concurrent lookup = %q, %v, %v", v, ok, err)
				return
			}
		}
	}()
	lookups := 0
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		default:
		}
		v, ok, err := m.Lookup("KEY1999")
		if err != nil || !ok || (v != "old1999" && v != "new1999") {
			t.Fatalf("lookup during rebuild = %q, %v, %v", v, ok, err)
		}
		fresh, err := Open("hash:"+src, Options{})
		if err != nil {
			t.Fatalf("open during rebuild: %v", err)
		}
		if _, ok, err := fresh.Lookup("key0"); err != nil || !ok {
			t.Fatalf("fresh lookup during rebuild = %v, %v", ok, err)
		}
		fresh.Close()
		lookups++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if lookups == 0 {
		t.Fatal("no lookups ran")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("rebuilds left files behind: %v", entries)
	}
}

// writeBigSource writes n "key value" lines in a shuffled order.
func writeBigSource(b testing.TB, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range n {
		j := (i * 7919) % n // a permutation when n is not a multiple of 7919
		fmt.Fprintf(w, "user%d@example%d.com destination%d@example.org\n", j, j%1000, j)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkBuild1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M-key build skipped in -short mode")
	}
	src := filepath.Join(b.TempDir(), "big")
	writeBigSource(b, src, 1_000_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Build("hash", src, false, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	const n = 100_000
	m := openBigHash(b, n)
	i := 0
	for b.Loop() {
		i++
		if _, ok, err := m.Lookup(fmt.Sprintf("USER%d@example%d.com", i%n, (i%n)%1000)); err != nil || !ok {
			b.Fatalf("lookup %d: %v %v", i, ok, err)
		}
	}
}

// openBigHash builds a hash: table of n generated keys (writeBigSource)
// and opens it for the rest of the benchmark.
func openBigHash(b *testing.B, n int) Map {
	b.Helper()
	src := filepath.Join(b.TempDir(), "m")
	writeBigSource(b, src, n)
	if _, err := Build("hash", src, false, nil); err != nil {
		b.Fatal(err)
	}
	m, err := Open("hash:"+src, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// TestBuildFileValues: postmap -F was refused; tern map -F stores the
// contents of the files a value names, joined by newlines, base64-encoded
// (tls_server_sni_maps reads them so).
func TestBuildFileValues(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
	if err := os.WriteFile(a, []byte("KEY"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, []byte("CERT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "sni")
	if err := os.WriteFile(src, []byte("mail.example.com "+a+", "+b+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildWith("hash", src, BuildOptions{FileValues: true}); err != nil {
		t.Fatal(err)
	}
	m, err := Open("hash:"+src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	v, found, err := m.Lookup("mail.example.com")
	if err != nil || !found || v != base64.StdEncoding.EncodeToString([]byte("KEY\nCERT\n")) {
		t.Errorf("value %q, %v, %v", v, found, err)
	}
	if err := os.WriteFile(src, []byte("x.example.com "+filepath.Join(dir, "missing.pem")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := BuildWith("hash", src, BuildOptions{FileValues: true}); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a missing file: %v", err)
	}
}
