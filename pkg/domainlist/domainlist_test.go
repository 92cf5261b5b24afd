package domainlist

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "domains")
	if err := os.WriteFile(file, []byte("# hosted\nfile.example, other.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		elems  []string
		parent bool
		domain string
		want   bool
	}{
		{"exact name", []string{"example.com"}, false, "example.com", true},
		{"case and trailing dot", []string{"Example.COM"}, false, "EXAMPLE.com.", true},
		{"subdomain without parent matching", []string{"example.com"}, false, "a.example.com", false},
		{"subdomain with parent matching", []string{"example.com"}, true, "a.example.com", true},
		{"dot form matches subdomains", []string{".example.com"}, false, "a.b.example.com", true},
		{"dot form does not match itself", []string{".example.com"}, false, "example.com", false},
		{"suffix is not a subdomain", []string{"example.com"}, true, "badexample.com", false},
		{"negation first wins", []string{"!a.example.com", ".example.com"}, false, "a.example.com", false},
		{"negation does not stop others", []string{"!a.example.com", ".example.com"}, false, "b.example.com", true},
		{"inline table", []string{"inline:{ t.example=1 }"}, false, "t.example", true},
		{"table parent dot key", []string{"inline:{ .t.example=1 }"}, false, "x.t.example", true},
		{"table parent plain key with parent matching", []string{"inline:{ t.example=1 }"}, true, "x.t.example", true},
		{"table parent plain key without parent matching", []string{"inline:{ t.example=1 }"}, false, "x.t.example", false},
		{"file entries", []string{file}, false, "other.example", true},
		{"not listed", []string{"example.com", file}, false, "example.org", false},
		{"empty domain", []string{"example.com"}, false, "", false},
		// UTF-8 names match their ASCII form either way, as in Postfix.
		{"UTF-8 domain, ASCII entry", []string{"xn--bcher-kva.example"}, false, "bücher.example", true},
		{"ASCII domain, UTF-8 entry", []string{"BÜCHER.example"}, false, "xn--bcher-kva.example", true},
		{"UTF-8 dot form", []string{".bücher.example"}, false, "mail.xn--bcher-kva.example", true},
		{"UTF-8 parent matching", []string{"bücher.example"}, true, "mail.bücher.example", true},
		{"UTF-8 table key", []string{"inline:{ bücher.example=1 }"}, false, "bücher.example", true},
		{"ASCII table key, UTF-8 domain", []string{"inline:{ xn--bcher-kva.example=1 }"}, false, "bücher.example", true},
		{"other UTF-8 domain", []string{"bücher.example"}, false, "bucher.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := New("relay_domains", tt.elems, tt.parent, maps.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			got, err := l.Match(tt.domain)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Match(%q) = %v, want %v", tt.domain, got, tt.want)
			}
		})
	}
}

func TestTableErrorIsReturned(t *testing.T) {
	l, err := New("virtual_mailbox_domains", []string{"fail:broken"}, false, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Match("example.com"); !errors.Is(err, maps.ErrLookup) {
		t.Fatalf("Match error = %v, want a lookup failure", err)
	}
}

func TestBadEntries(t *testing.T) {
	for _, elems := range [][]string{{"nosuchtype:x"}, {"!/etc/x"}, {"/nonexistent/file"}} {
		if _, err := New("mydestination", elems, false, maps.Options{}); err == nil {
			t.Errorf("New(%q) succeeded", elems)
		}
	}
}

func TestParentMatches(t *testing.T) {
	v := "debug_peer_list,fast_flush_domains, relay_domains smtpd_access_maps"
	if !ParentMatches(v, "relay_domains") || ParentMatches(v, "mydestination") {
		t.Fatal("ParentMatches misreads the list")
	}
}

func TestEmpty(t *testing.T) {
	l, err := New("relay_domains", []string{" ", ""}, false, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Empty() {
		t.Fatal("list of blanks is not empty")
	}
	var nilList *List
	if ok, err := nilList.Match("x"); ok || err != nil || !nilList.Empty() {
		t.Fatal("nil list matches")
	}
}

func TestFromConfig(t *testing.T) {
	vals := map[string]string{
		"relay_domains":                    "inline:{ a.example=1, b.example=1 }, c.example",
		"parent_domain_matches_subdomains": "relay_domains",
	}
	l, err := FromConfig(func(n string) string { return vals[n] }, "relay_domains", maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for d, want := range map[string]bool{"b.example": true, "x.c.example": true, "x.b.example": true, "d.example": false} {
		if got, err := l.Match(d); err != nil || got != want {
			t.Errorf("Match(%q) = %v, %v; want %v", d, got, err, want)
		}
	}
}
