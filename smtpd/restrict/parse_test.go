package restrict

import (
	"reflect"
	"strings"
	"testing"
)

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name, conf string
		deps       func(*Deps)
		want       []string // substrings of the error
	}{
		{"unknown word", "smtpd_client_restrictions = permit_mynetworks, reject_foo\n", nil,
			[]string{"smtpd_client_restrictions", `"reject_foo"`}},
		{"missing table", "smtpd_sender_restrictions = check_sender_access\n", nil,
			[]string{"smtpd_sender_restrictions", "check_sender_access"}},
		{"bad table", "smtpd_sender_restrictions = check_sender_access nocolon\n", nil,
			[]string{"smtpd_sender_restrictions", "check_sender_access", `"nocolon"`}},
		{"unsupported", "smtpd_sender_restrictions = check_relay_domains\n", nil,
			[]string{"smtpd_sender_restrictions", "check_relay_domains", "not supported"}},
		{"open relay", "smtpd_relay_restrictions =\nsmtpd_recipient_restrictions =\n", nil, []string{"open relay"}},
		{"permit first", "smtpd_relay_restrictions = permit, reject_unauth_destination\n", nil, []string{"open relay"}},
		{"only a warning", "smtpd_relay_restrictions = warn_if_reject, reject_unauth_destination\n", nil, []string{"open relay"}},
		{"nil mynetworks", "", func(d *Deps) { d.MyNetworks = nil },
			[]string{"smtpd_relay_restrictions", "permit_mynetworks", "Deps.MyNetworks"}},
		{"nil local", "", func(d *Deps) { d.LocalDomain = nil },
			[]string{"smtpd_relay_restrictions", "defer_unauth_destination", "Deps.LocalDomain"}},
		{"nil dns", "smtpd_sender_restrictions = reject_unknown_sender_domain\n", func(d *Deps) { d.DomainResolves = nil },
			[]string{"smtpd_sender_restrictions", "reject_unknown_sender_domain"}},
		{"nil opener", "smtpd_helo_restrictions = hash:/nonexistent\n", func(d *Deps) { d.OpenMap = nil },
			[]string{"smtpd_helo_restrictions", "hash:/nonexistent"}},
		{"table open fails", "smtpd_helo_restrictions = check_helo_access hash:/nonexistent/helo\n", nil,
			[]string{"smtpd_helo_restrictions", "hash:/nonexistent/helo"}},
		{"bare table in data", "smtpd_data_restrictions = inline:{ a=b }\n", nil,
			[]string{"smtpd_data_restrictions", "inline:{ a=b }"}},
		{"class without definition", "smtpd_restriction_classes = nothing\n", nil, []string{"nothing", "definition"}},
		{"class cycle", "smtpd_restriction_classes = a, b\na = b\nb = a\n", nil, []string{"refers to itself"}},
		{"class shadows builtin", "smtpd_restriction_classes = reject\n", nil, []string{`"reject"`}},
		{"bad code", "reject_code = 250\n", nil, []string{"reject_code", "250"}},
		{"bad tempfail action", "unknown_address_tempfail_action = maybe\n", nil, []string{"unknown_address_tempfail_action", "maybe"}},
		{"relay_domains without lookup", "relay_domains = relay.example\n", func(d *Deps) { d.RelayDomain = nil },
			[]string{"relay_domains"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newWorld().deps()
			if tc.deps != nil {
				tc.deps(&d)
			}
			c, err := New(parseConf(t, tc.conf), d)
			if err == nil {
				c.Close()
				t.Fatalf("New succeeded, want error with %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	for _, conf := range []string{
		"",
		"smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n",
		"smtpd_restriction_classes = strict\nstrict = reject\nsmtpd_relay_restrictions = permit_mynetworks, strict\n",
		"smtpd_client_restrictions = PERMIT_MYNETWORKS, Reject_Unknown_Client_Hostname\n",
		"smtpd_helo_restrictions = inline:{ { a = REJECT x, y } }, check_helo_access inline:{a=b}\n",
	} {
		c, err := New(parseConf(t, conf), newWorld().deps())
		if err != nil {
			t.Errorf("New(%q): %v", conf, err)
			continue
		}
		c.Close()
	}
}

func TestSplitWords(t *testing.T) {
	for in, want := range map[string][]string{
		"a, b\tc\n d":                    {"a", "b", "c", "d"},
		"check_x inline:{ a=b, c=d }, e": {"check_x", "inline:{ a=b, c=d }", "e"},
		",,,":                            nil,
		"{ a { b } c } d":                {"{ a { b } c }", "d"},
	} {
		if got := splitWords(in); !reflect.DeepEqual(got, want) {
			t.Errorf("splitWords(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAddressHelpers(t *testing.T) {
	for in, want := range map[string]string{
		"@a,@b:user@c": "user@c", "@[IPv6:::1]:u@d": "u@d", "user@c": "user@c", "@nocolon": "@nocolon",
	} {
		if got := StripSourceRoute(in); got != want {
			t.Errorf("StripSourceRoute(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"u@Example.COM.": "example.com", `"a@b"@c.d`: "c.d", "@r:u@x.y": "x.y", "nodomain": "", "u@[1.2.3.4]": "[1.2.3.4]",
	} {
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
	for name, want := range map[string]bool{
		"mail.example.com": true, "a_b.example": true, "-bad.example": false, "1.2.3.4": false,
		"": false, "a..b": false, strings.Repeat("a", 64) + ".com": false, "ex ample.com": false,
	} {
		if got := ValidHostname(name); got != want {
			t.Errorf("ValidHostname(%q) = %v, want %v", name, got, want)
		}
	}
	for lit, want := range map[string]bool{
		"[1.2.3.4]": true, "[0.1.2.3]": false, "[IPv6:2001:db8::1]": true, "[2001:db8::1]": false, "[x]": false,
	} {
		if got := validAddrLiteral(lit); got != want {
			t.Errorf("validAddrLiteral(%q) = %v, want %v", lit, got, want)
		}
	}
}
