package cidrmap

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, c := range []struct {
		name, table, key, want string
		found                  bool
	}{
		{"network", "192.168.0.0/16 REJECT\n", "192.168.3.4", "REJECT", true},
		{"outside", "192.168.0.0/16 REJECT\n", "192.169.0.1", "", false},
		{"host", "10.0.0.1 OK\n", "10.0.0.1", "OK", true},
		{"host other", "10.0.0.1 OK\n", "10.0.0.2", "", false},
		{"first match wins", "10.0.0.0/8 wide\n10.1.0.0/16 narrow\n", "10.1.2.3", "wide", true},
		{"file order, not specificity", "10.1.0.0/16 narrow\n10.0.0.0/8 wide\n", "10.1.2.3", "narrow", true},
		{"zero prefix", "0.0.0.0/0 any4\n", "8.8.8.8", "any4", true},
		{"zero prefix is IPv4 only", "0.0.0.0/0 any4\n", "::1", "", false},
		{"ipv6", "2001:db8::/32 v6\n", "2001:db8:1::5", "v6", true},
		{"ipv6 brackets", "[2001:db8::]/32 v6\n", "2001:DB8::1", "v6", true},
		{"ipv6 host brackets", "[::1] lo\n", "::1", "lo", true},
		{"ipv6 not ipv4", "::/0 any6\n", "1.2.3.4", "", false},
		{"mapped key", "1.2.3.0/24 v4\n", "::ffff:1.2.3.4", "v4", true},
		{"mapped entry", "::ffff:1.2.3.0/120 v4\n", "1.2.3.4", "v4", true},
		{"zone in key", "fe80::/10 link\n", "fe80::1%eth0", "link", true},
		{"negated", "!10.0.0.0/8 outside\n", "11.0.0.1", "outside", true},
		{"negated inside", "!10.0.0.0/8 outside\n", "10.0.0.1", "", false},
		{"not an address", "0.0.0.0/0 any\n::/0 any\n", "mail.example.com", "", false},
		{"bracketed key", "0.0.0.0/0 any\n", "[1.2.3.4]", "", false},
		{"result with spaces", "1.2.3.4 550 go away  \n", "1.2.3.4", "550 go away", true},
		{"comments and continuation", "# c\n\n1.2.3.4 REJECT\n  no thanks\n", "1.2.3.4", "REJECT  no thanks", true},
		{"if", "if 10.0.0.0/8\n10.1.0.0/16 a\nendif\n0.0.0.0/0 b\n", "10.1.0.1", "a", true},
		{"if skips", "if 10.0.0.0/8\n0.0.0.0/0 a\nendif\n0.0.0.0/0 b\n", "11.0.0.1", "b", true},
		{"if negated", "IF !10.0.0.0/8\n0.0.0.0/0 a\nENDIF\n", "11.0.0.1", "a", true},
		{"nested if", "if 10.0.0.0/8\nif 10.1.0.0/16\n0.0.0.0/0 a\nendif\n0.0.0.0/0 b\nendif\n", "10.2.0.1", "b", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tbl, err := Parse("cidr:t", "t", strings.NewReader(c.table))
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.table, err)
			}
			got, found, err := tbl.Lookup(c.key)
			if err != nil || got != c.want || found != c.found {
				t.Fatalf("Lookup(%q) = %q, %v, %v; want %q, %v", c.key, got, found, err, c.want, c.found)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, c := range []struct{ name, table, want string }{
		{"host bits", "# x\n192.168.1.1/16 REJECT\n", `f:2: non-null host address bits in "192.168.1.1/16", perhaps you should use "192.168.0.0/16" instead`},
		{"host bits v6", "2001:db8::1/32 x\n", `f:1: non-null host address bits in "2001:db8::1/32", perhaps you should use "2001:db8::/32" instead`},
		{"no result", "1.2.3.4\n", `f:1: no lookup result for "1.2.3.4"`},
		{"bad address", "1.2.3 x\n", `f:1: bad address pattern: "1.2.3"`},
		{"hostname", "example.com x\n", `f:1: bad address pattern: "example.com"`},
		{"bad mask", "1.2.3.0/33 x\n", `f:1: bad net/mask pattern: "1.2.3.0/33"`},
		{"bad mask v6", "::/129 x\n", `f:1: bad net/mask pattern: "::/129"`},
		{"empty mask", "1.2.3.0/ x\n", `f:1: bad net/mask pattern: "1.2.3.0/"`},
		{"signed mask", "1.2.3.0/+8 x\n", `f:1: bad net/mask pattern: "1.2.3.0/+8"`},
		{"missing bracket", "[::1/128 x\n", `f:1: missing "]" character after "[::1"`},
		{"zone", "fe80::1%eth0 x\n", `f:1: bad address pattern: "fe80::1%eth0"`},
		{"lone bang", "! x\n", `f:1: no address pattern`},
		{"endif without if", "endif\n", `f:1: ENDIF without matching IF`},
		{"if without endif", "1.2.3.4 a\nif 1.0.0.0/8\n", `f:2: IF has no matching ENDIF`},
		{"if without pattern", "if\nendif\n", `f:1: no address pattern after IF`},
		{"extra after if", "if 1.0.0.0/8 x\nendif\n", `f:1: extra text after IF statement: "x"`},
		{"extra after endif", "if 1.0.0.0/8\nendif x\n", `f:2: extra text after ENDIF: "x"`},
		{"leading whitespace", " 1.2.3.4 x\n", `f:1: logical line must not start with whitespace`},
		{"continued line number", "1.2.3.4 a\n1.2.3.5/8\n  x\n", `f:2: non-null host address bits in "1.2.3.5/8", perhaps you should use "1.0.0.0/8" instead`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse("cidr:f", "f", strings.NewReader(c.table))
			if err == nil || err.Error() != c.want {
				t.Fatalf("Parse(%q) error:\n got %v\nwant %s", c.table, err, c.want)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client_access")
	if err := os.WriteFile(path, []byte("127.0.0.0/8 OK\n[::1]/128 OK\n0.0.0.0/0 REJECT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl, err := Open("cidr:"+path, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if tbl.Name() != "cidr:"+path {
		t.Errorf("Name() = %q", tbl.Name())
	}
	for key, want := range map[string]string{"127.0.0.2": "OK", "::1": "OK", "9.9.9.9": "REJECT"} {
		if v, ok, err := tbl.Lookup(key); !ok || err != nil || v != want {
			t.Errorf("Lookup(%q) = %q, %v, %v; want %q", key, v, ok, err, want)
		}
	}
	if _, err := Open("cidr:x", filepath.Join(t.TempDir(), "missing")); err == nil || !strings.HasPrefix(err.Error(), "open cidr:x: ") {
		t.Errorf("Open of a missing file: %v", err)
	}
}

func FuzzParseCIDR(f *testing.F) {
	for _, s := range []string{
		"192.168.0.0/16 REJECT\n",
		"[2001:db8::]/32 x\n::ffff:1.2.3.0/120 y\n",
		"!10.0.0.0/8 z\n",
		"if 10.0.0.0/8\nif !10.1.0.0/16\n0.0.0.0/0 a\nendif\nendif\n",
		"# c\n1.2.3.4 a\n  b\n",
		"1.2.3.4/24 x\n",
		"endif\n",
		"[::1 x\n",
	} {
		f.Add(s, "10.2.3.4")
	}
	keys := []string{"", "1.2.3.4", "::1", "::ffff:10.0.0.1", "fe80::1%lo", "x"}
	f.Fuzz(func(t *testing.T, text, key string) {
		tbl, err := Parse("cidr:f", "f", strings.NewReader(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f:") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, k := range append(keys, key) {
			if _, _, err := tbl.Lookup(k); err != nil {
				t.Fatalf("Lookup(%q): %v", k, err)
			}
		}
	})
}

// The table must fit the lookup table interface of package maps.
var _ interface {
	Lookup(key string) (string, bool, error)
	Name() string
	Close() error
} = (*Table)(nil)
