package smtp

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/smtp/client"
	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// TestDANESettings: the dane levels need smtp_dns_support_level = dnssec;
// without it dane works as may and dane-only as encrypt, with a warning.
func TestDANESettings(t *testing.T) {
	tests := []struct {
		mainCF   string
		level    client.TLSLevel
		dns      string
		warning  string
		errorOut string
	}{
		{"smtp_tls_security_level = dane\nsmtp_dns_support_level = dnssec\n", levelDane, dnsDNSSEC, "", ""},
		{"smtp_tls_security_level = dane-only\nsmtp_dns_support_level = dnssec\n", levelDaneOnly, dnsDNSSEC, "", ""},
		{"smtp_tls_security_level = dane\n", client.TLSMay, dnsEnabled, "smtp_tls_security_level = dane needs smtp_dns_support_level = dnssec: using may", ""},
		{"smtp_tls_security_level = dane-only\n", client.TLSEncrypt, dnsEnabled, "using encrypt", ""},
		{"disable_dns_lookups = yes\n", client.TLSMay, dnsDisabled, "", ""},
		{"disable_dns_lookups = yes\nsmtp_dns_support_level = enabled\n", client.TLSMay, dnsEnabled, "", ""},
		{"smtp_tls_security_level = fingerprint\nsmtp_tls_fingerprint_cert_match = ab:cd\n", client.TLSFingerprint, dnsEnabled, "", ""},
	}
	for _, tt := range tests {
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		s, err := loadSettings(cfg, t.TempDir(), false)
		if tt.errorOut != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errorOut) {
				t.Errorf("%q: error %v, want %q", tt.mainCF, err, tt.errorOut)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.mainCF, err)
			continue
		}
		if s.tlsLevel != tt.level || s.dnsLevel != tt.dns {
			t.Errorf("%q: level %q, dns %q; want %q, %q", tt.mainCF, s.tlsLevel, s.dnsLevel, tt.level, tt.dns)
		}
		got := strings.Join(s.warnings, "\n")
		if (tt.warning == "") != (got == "") || !strings.Contains(got, tt.warning) {
			t.Errorf("%q: warnings %q, want %q", tt.mainCF, got, tt.warning)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		level   string
		matches []string
	}{
		{"dane", "dane", nil},
		{"  Dane-Only  ", "dane-only", nil},
		{"fingerprint match=ab:cd|EF:01 match=23:45", "fingerprint", []string{"AB:CD", "EF:01", "23:45"}},
		{"secure match=nexthop:dot-nexthop", "secure", []string{"nexthop", "dot-nexthop"}},
		{"verify match=hostname:.Example.COM", "verify", []string{"hostname", ".example.com"}},
		{"may match=nexthop", "may", nil},
		{"fingerprint other=1", "fingerprint", nil},
		{"", "", nil},
	}
	for _, tt := range tests {
		got := parsePolicy(tt.in)
		if got.level != tt.level || !slices.Equal(got.matches, tt.matches) {
			t.Errorf("parsePolicy(%q) = %+v, want %s %v", tt.in, got, tt.level, tt.matches)
		}
	}
	// Attributes tern does not use are kept, to be warned about.
	for in, want := range map[string][]string{
		"secure protocols=!SSLv2 match=nexthop ciphers=high": {"protocols=!SSLv2", "ciphers=high"},
		"may match=nexthop": {"match=nexthop"},
		"verify":            nil,
	} {
		if got := parsePolicy(in).ignored; !slices.Equal(got, want) {
			t.Errorf("parsePolicy(%q).ignored = %q, want %q", in, got, want)
		}
	}
}

// TestDNSDisabled: smtp_dns_support_level = disabled (and the older
// disable_dns_lookups = yes) were ignored. With it, a domain next hop is
// not looked up in DNS (the only name server here never answers): the
// host's address comes the system's way, as Postfix's native lookups.
func TestDNSDisabled(t *testing.T) {
	silent := mxtest.NewSilent(t)
	for _, mainCF := range []string{"smtp_dns_support_level = disabled\n", "disable_dns_lookups = yes\n"} {
		cfg, err := config.Parse("main.cf", strings.NewReader(mainCF+"tern_dns_servers = "+silent+"\ninet_protocols = ipv4\n"))
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(cfg, t.TempDir(), false)
		if err != nil {
			t.Fatal(err)
		}
		a.resolver.Timeout = 100 * time.Millisecond
		got, res := a.targets(context.Background(), destination{network: "tcp", host: "localhost", port: 25, mx: true})
		if res != nil || len(got) == 0 || got[0].addr != "127.0.0.1:25" {
			t.Errorf("%q: targets = %+v, %+v; want localhost's address", mainCF, got, res)
		}
		a.Close()
	}
}

// FuzzParsePolicy: any smtp_tls_policy_maps value parses without panic
// into a lower-case level and non-empty match values, which only the
// fingerprint (upper-case fingerprints), verify and secure (lower-case
// names) levels have.
func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{"dane", "fingerprint match=ab:cd|ef match=01", "secure match=.example.com", "", "  may  x=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p := parsePolicy(v)
		if p.level != strings.ToLower(p.level) {
			t.Errorf("level %q is not lower case", p.level)
		}
		fold := map[string]func(string) string{"fingerprint": strings.ToUpper, "verify": strings.ToLower, "secure": strings.ToLower}[p.level]
		if len(p.matches) > 0 && fold == nil {
			t.Errorf("level %q has matches %q", p.level, p.matches)
		}
		for _, m := range p.matches {
			if m == "" || m != fold(m) || strings.ContainsAny(m, " \t") {
				t.Errorf("level %q: match %q", p.level, m)
			}
		}
	})
}
