package rewrite

import (
	"strings"
	"testing"
)

// TestGeneric: smtp_generic_maps was known but had no effect. Addresses
// are looked up as canonical(5) does, once, and every address header is
// rewritten; other text stays.
func TestGeneric(t *testing.T) {
	s, err := GenericFromConfig(getter(map[string]string{
		"smtp_generic_maps":   "inline:{ {joe@host.example.com=joe.smith@example.net}, {root=admin@example.net}, {@localhost=nobody@example.net}, {loop@host.example.com=chain@example.net}, {chain@example.net=not.again@example.net} }",
		"recipient_delimiter": "+",
	}), openList)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tt := range []struct{ in, want string }{
		{"joe@host.example.com", "joe.smith@example.net"},
		{"joe+list@host.example.com", "joe.smith@example.net"}, // generic is not in propagate_unmatched_extensions
		{"root@host.example.com", "admin@example.net"},         // the bare user form: a local domain
		{"root@elsewhere.example", "root@elsewhere.example"},   // not local: no bare user lookup
		{"anyone@localhost", "nobody@example.net"},
		{"joe.smith@example.net", "joe.smith@example.net"},
		{"loop@host.example.com", "chain@example.net"}, // once: the result is not looked up again
		{"", ""},
	} {
		if got, err := s.GenericAddress(tt.in); err != nil || got != tt.want {
			t.Errorf("GenericAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, tt := range []struct{ name, in, want string }{
		{"From", ` "Joe" <joe@host.example.com> (home)`, ` "Joe" <joe.smith@example.net> (home)`},
		{"To", " root@host.example.com,\n\tother@remote.example", " admin@example.net,\n\tother@remote.example"},
		{"Subject", " joe@host.example.com", " joe@host.example.com"},
	} {
		got, _, err := s.GenericHeaderLine(tt.name, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("GenericHeaderLine(%s, %q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
	if none, err := GenericFromConfig(getter(nil), openList); none != nil || err != nil {
		t.Errorf("without smtp_generic_maps: %v, %v; want nil, nil", none, err)
	}
	broken, err := GenericFromConfig(getter(map[string]string{"smtp_generic_maps": "fail:x"}), openList)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.GenericAddress("a@b.example"); err == nil || !strings.Contains(err.Error(), "smtp_generic_maps") {
		t.Errorf("a failing table: %v, want an error naming smtp_generic_maps", err)
	}
}
