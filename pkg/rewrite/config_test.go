package rewrite

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

// openList opens a table list as the daemons do.
func openList(list string) ([]maps.Map, error) {
	specs, err := maps.SplitSpecs(list)
	if err != nil {
		return nil, err
	}
	ms, _, err := maps.OpenList(specs, maps.Options{})
	return ms, err
}

// getter returns a get function over params, with the Postfix defaults
// that FromConfig's tests rely on.
func getter(params map[string]string) func(string) string {
	defaults := map[string]string{
		"canonical_classes":              "envelope_sender, envelope_recipient, header_sender, header_recipient",
		"sender_canonical_classes":       "envelope_sender, header_sender",
		"recipient_canonical_classes":    "envelope_recipient, header_recipient",
		"masquerade_classes":             "envelope_sender, header_sender, header_recipient",
		"propagate_unmatched_extensions": "canonical, virtual",
		"virtual_alias_recursion_limit":  "1000",
		"virtual_alias_expansion_limit":  "1000",
		"append_at_myorigin":             "yes",
		"append_dot_mydomain":            "no",
		"double_bounce_sender":           "double-bounce",
		"inet_interfaces":                "127.0.0.1",
		"myorigin":                       "host.example.com",
		"mydomain":                       "example.com",
		"mydestination":                  "host.example.com, localhost",
	}
	return func(name string) string {
		if v, ok := params[name]; ok {
			return v
		}
		return defaults[name]
	}
}

func TestFromConfig(t *testing.T) {
	dir := t.TempDir()
	exceptions := filepath.Join(dir, "exceptions")
	if err := os.WriteFile(exceptions, []byte("# users\nAdmin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	get := getter(map[string]string{
		"canonical_maps":                     "inline:{ user=canon@example.com }",
		"sender_canonical_maps":              "inline:{ s@example.com=sender@sub.example.com }",
		"virtual_alias_maps":                 "inline:{ {v@example.com=plain, other@example.com} }",
		"masquerade_domains":                 "!keep.example.com, example.com",
		"masquerade_exceptions":              "root, inline:{ postmaster=1 }, " + exceptions,
		"recipient_delimiter":                "+",
		"virtual_alias_expansion_limit":      "7",
		"virtual_alias_address_length_limit": "",
		"propagate_unmatched_extensions":     "virtual",
		"proxy_interfaces":                   "192.0.2.1",
	})
	s, err := FromConfig(get, openList)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if len(s.Canonical) != 1 || len(s.SenderCanonical) != 1 || len(s.RecipientCanonical) != 0 || len(s.VirtualAlias) != 1 {
		t.Errorf("tables: %d %d %d %d", len(s.Canonical), len(s.SenderCanonical), len(s.RecipientCanonical), len(s.VirtualAlias))
	}
	if s.ExpansionLimit != 7 || s.RecursionLimit != 1000 || s.AddressLengthLimit != DefaultAddressLengthLimit {
		t.Errorf("limits: %d %d %d", s.RecursionLimit, s.ExpansionLimit, s.AddressLengthLimit)
	}
	if !s.MasqueradeExceptions["root"] || !s.MasqueradeExceptions["admin"] || len(s.MasqueradeExceptionMaps) != 1 {
		t.Errorf("exceptions: %v %d", s.MasqueradeExceptions, len(s.MasqueradeExceptionMaps))
	}
	if s.propagates("canonical") || !s.propagates("virtual") {
		t.Errorf("propagate: %v", s.PropagateUnmatched)
	}
	checks := []struct {
		name string
		fn   func(string) (string, error)
		in   string
		want string
	}{
		// "user" forms are searched for local domains only.
		{"local domain via mydestination", s.Recipient, "user+x@localhost", "canon@example.com"},
		{"local domain via myorigin", s.Recipient, "user@HOST.example.com.", "canon@example.com"},
		{"local domain via inet_interfaces", s.Recipient, "user@[127.0.0.1]", "canon@example.com"},
		{"local domain via proxy_interfaces", s.Recipient, "user@[192.0.2.1]", "canon@example.com"},
		{"other domain", s.Recipient, "user@elsewhere.test", "user@elsewhere.test"},
		{"other address literal", s.Recipient, "user@[192.0.2.9]", "user@[192.0.2.9]"},
		{"sender canonical then masquerade", s.Sender, "s@example.com", "sender@example.com"},
		{"!domain", s.Sender, "u@a.keep.example.com", "u@a.keep.example.com"},
		{"exception name", s.Sender, "root@a.example.com", "root@a.example.com"},
		{"exception file", s.Sender, "admin@a.example.com", "admin@a.example.com"},
		{"exception table", s.Sender, "postmaster@a.example.com", "postmaster@a.example.com"},
	}
	for _, c := range checks {
		got, err := c.fn(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: %q -> %q, %v; want %q", c.name, c.in, got, err, c.want)
		}
	}
	got, err := s.ExpandVirtual("v+ext@example.com")
	if err != nil || strings.Join(got, " ") != "plain+ext@host.example.com other+ext@example.com" {
		t.Errorf("ExpandVirtual = %q, %v", got, err)
	}
}

func TestFromConfigErrors(t *testing.T) {
	cases := []struct {
		param, value, want string
	}{
		{"canonical_classes", "envelope_sender, nonsense", `unknown canonical_classes value "nonsense"`},
		{"masquerade_classes", "bogus", `unknown masquerade_classes value "bogus"`},
		{"propagate_unmatched_extensions", "virtual, x", `unknown propagate_unmatched_extensions value "x"`},
		{"virtual_alias_recursion_limit", "ten", "bad numerical configuration: virtual_alias_recursion_limit = ten"},
		{"virtual_alias_expansion_limit", "0", "invalid virtual_alias_expansion_limit parameter value 0 < 1"},
		{"canonical_maps", "nosuch:/x", "canonical_maps: "},
		{"virtual_alias_maps", "inline:{ a=b", "virtual_alias_maps: "},
		{"masquerade_exceptions", "!root", "masquerade_exceptions: negated entry"},
		{"masquerade_exceptions", "/nonexistent/file", "masquerade_exceptions: open /nonexistent/file"},
		{"append_dot_mydomain", "maybe", "bad boolean configuration: append_dot_mydomain = maybe"},
		{"mydestination", "/nonexistent/file", "mydestination"},
	}
	for _, c := range cases {
		get := getter(map[string]string{c.param: c.value, "sender_canonical_maps": "inline:{ a=b }"})
		s, err := FromConfig(get, openList)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %q: error %v; want %q", c.param, c.value, err, c.want)
		}
		if s != nil {
			t.Errorf("%s = %q: Settings returned with an error", c.param, c.value)
		}
	}
}

func TestQualify(t *testing.T) {
	cases := []struct {
		q        qualifier
		in, want string
	}{
		{qualifier{appendAt: true, myorigin: "o.test"}, "user", "user@o.test"},
		{qualifier{appendAt: false, myorigin: "o.test"}, "user", "user"},
		{qualifier{appendAt: true, myorigin: "host", appendDot: true, mydomain: "d.test"}, "user", "user@host.d.test"},
		{qualifier{appendDot: true, mydomain: "d.test"}, "user@host", "user@host.d.test"},
		{qualifier{appendDot: true, mydomain: "d.test"}, "user@[1.2.3.4]", "user@[1.2.3.4]"},
		{qualifier{appendDot: true, mydomain: "d.test"}, "user@a.b", "user@a.b"},
	}
	for _, c := range cases {
		if got := c.q.qualify(c.in); got != c.want {
			t.Errorf("%+v: qualify(%q) = %q; want %q", c.q, c.in, got, c.want)
		}
	}
}
