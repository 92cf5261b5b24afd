package netlist

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	cidr := filepath.Join(dir, "nets.cidr")
	write(t, cidr, "# office\n203.0.113.0/24 ok\n!198.51.100.0/24 ok\n")
	file := filepath.Join(dir, "mynetworks")
	write(t, file, "# local networks\n10.0.0.0/8, [fd00::]/8 # ULA\n  !10.9.0.0/16\n")
	banned := filepath.Join(dir, "banned")
	write(t, banned, "172.16.0.5\n")
	hosts := filepath.Join(dir, "hosts")
	write(t, hosts, "192.0.2.9 ok\n2001:db8::9 yes\n")
	tests := []struct {
		name  string
		elems string
		in    map[string]bool
	}{
		{"addresses and networks", "127.0.0.0/8 [::1]/128 192.0.2.7 2001:db8::/32",
			map[string]bool{"127.1.2.3": true, "::1": true, "192.0.2.7": true, "192.0.2.8": false,
				"2001:db8::5": true, "::ffff:127.0.0.1": true, "::2": false}},
		{"host bits cleared", "192.0.2.77/24", map[string]bool{"192.0.2.1": true, "192.0.3.1": false}},
		{"first match decides", "!192.0.2.7 192.0.2.0/24", map[string]bool{"192.0.2.7": false, "192.0.2.8": true}},
		{"exclusion after inclusion has no effect", "192.0.2.0/24 !192.0.2.7", map[string]bool{"192.0.2.7": true}},
		{"pattern file", file, map[string]bool{"10.1.2.3": true, "fd00::1": true, "10.9.1.1": true, "11.0.0.1": false}},
		{"negated pattern file", "!" + banned + " 172.16.0.0/12", map[string]bool{"172.16.0.5": false, "172.16.0.6": true}},
		{"cidr table", "cidr:" + cidr, map[string]bool{"203.0.113.9": true, "198.51.100.1": false, "192.0.2.1": true}},
		{"table, exact address", "texthash:" + hosts,
			map[string]bool{"192.0.2.9": true, "192.0.2.10": false, "2001:db8::9": true}},
		{"negated table", "!texthash:" + hosts + " 192.0.2.0/24", map[string]bool{"192.0.2.9": false, "192.0.2.1": true}},
		{"empty", "", map[string]bool{"127.0.0.1": false}},
		// Debian's default main.cf: tern refused the mapped network.
		{"debian default", "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128",
			map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.2": true, "::1": true, "128.0.0.1": false}},
		{"mapped network alone", "[::ffff:192.0.2.0]/120", map[string]bool{"192.0.2.9": true, "::ffff:192.0.2.9": true, "192.0.3.1": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New("mynetworks", splitList(tt.elems), maps.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = l.Close() }()
			for addr, want := range tt.in {
				got, err := l.Match(netip.MustParseAddr(addr))
				if err != nil || got != want {
					t.Errorf("Match(%s) = %v, %v; want %v", addr, got, err, want)
				}
			}
		})
	}
}

// TestMatchLookupFailure: a table that can't be searched is an error that
// names the parameter, never a silent "not in mynetworks" (which would
// turn a relay for local clients into 554 relay denied).
func TestMatchLookupFailure(t *testing.T) {
	l, err := New("mynetworks", []string{"192.0.2.0/24", "fail:down"}, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := l.Match(netip.MustParseAddr("192.0.2.1")); !ok || err != nil {
		t.Errorf("address before the table: %v, %v", ok, err)
	}
	_, err = l.Match(netip.MustParseAddr("198.51.100.1"))
	if !errors.Is(err, maps.ErrLookup) || !strings.Contains(err.Error(), "mynetworks") {
		t.Errorf("lookup failure: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	deep := filepath.Join(dir, "self")
	write(t, deep, deep+"\n")
	for _, elems := range []string{"192.0.2.0/33", "[::1", "[example]", "example.com", "[::ffff:0:0]/80", "10.0.0.0/8 " + filepath.Join(dir, "missing"),
		"nosuchtype:x", deep} {
		_, err := New("mynetworks", splitList(elems), maps.Options{})
		if err == nil || !strings.HasPrefix(err.Error(), "mynetworks: ") {
			t.Errorf("New(%q) = %v, want an error naming mynetworks", elems, err)
		}
	}
}

func TestNilListMatchesNothing(t *testing.T) {
	var l *List
	if ok, err := l.Match(netip.MustParseAddr("127.0.0.1")); ok || err != nil || !l.Empty() || l.Close() != nil {
		t.Errorf("nil list: %v, %v", ok, err)
	}
}

func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "10.0.0.0/8", "[::1]/128", "[2001:db8::]/32", "::ffff:1.2.3.4", "[::ffff:0:0]/96", "[", "1.2.3.4/", "[1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
			t.Fatalf("ParsePrefix(%q) = %v: not a valid masked prefix", s, p)
		}
		if back, err := ParsePrefix(p.String()); err != nil || back != p {
			t.Fatalf("ParsePrefix(%q) = %v, which parses back as %v, %v", s, p, back, err)
		}
	})
}

// splitList splits a parameter value as config.List does.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
