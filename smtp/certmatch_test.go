package smtp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestNamePatternMatches(t *testing.T) {
	tests := []struct {
		p    namePattern
		cn   string
		want bool
	}{
		{namePattern{name: "mx.example.com"}, "mx.example.com", true},
		{namePattern{name: "mx.example.com"}, "MX.Example.com.", true},
		{namePattern{name: "mx.example.com"}, "example.com", false},
		{namePattern{name: "mx.example.com"}, "*.example.com", true},
		{namePattern{name: "a.mx.example.com"}, "*.example.com", false}, // one label only
		{namePattern{name: "a.mx.example.com", multi: true}, "*.example.com", true},
		{namePattern{name: "example.com", multi: true}, "*.example.com", false},
		{namePattern{name: "aexample.com", multi: true}, "*.example.com", false},
		{namePattern{name: "example.com"}, "*.example.com", false},
		{namePattern{name: "example.com", sub: true}, "mx.example.com", true},
		{namePattern{name: "example.com", sub: true}, "a.b.example.com", true},
		{namePattern{name: "example.com", sub: true}, "example.com", false},
		{namePattern{name: "example.com", sub: true}, "badexample.com", false},
		{namePattern{name: "example.com", sub: true}, "*.example.com", true},
		{namePattern{name: "example.com", sub: true}, "*.mx.example.com", true},
		{namePattern{name: "example.com", sub: true}, "*.com", false},
	}
	for _, tt := range tests {
		if got := tt.p.matches(tt.cn); got != tt.want {
			t.Errorf("%+v.matches(%q) = %v, want %v", tt.p, tt.cn, got, tt.want)
		}
	}
}

func TestCertPatterns(t *testing.T) {
	dest := destination{host: "Example.COM", mx: true}
	tg := target{name: "mx1.provider.net"}
	got := certPatterns([]string{"hostname", "nexthop", "dot-nexthop", ".corp.example", "relay.example", ""}, dest, tg, true)
	want := []namePattern{{"mx1.provider.net", false, true}, {"example.com", false, true}, {"example.com", true, true},
		{"corp.example", true, true}, {"relay.example", false, true}}
	if len(got) != len(want) {
		t.Fatalf("certPatterns = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("certPatterns[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestVerifyAndSecureNames: smtp_tls_secure_cert_match and
// smtp_tls_verify_cert_match were unknown and policy match= attributes
// of verify and secure were ignored, so secure checked the MX host's name
// as verify does. secure now wants the next-hop domain or a name below
// it by default: a certificate naming only the MX host of another
// provider fails, one naming a host below the domain passes.
func TestVerifyAndSecureNames(t *testing.T) {
	now := time.Now()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	leafFor := func(names ...string) *x509.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	dest := destination{host: "example.com", mx: true}
	tg := target{name: "mx.provider.net"}
	tests := []struct {
		name  string
		match []string
		leaf  *x509.Certificate
		ok    bool
		err   string
	}{
		{"verify: host name", defaultVerifyMatch, leafFor("mx.provider.net"), true, ""},
		{"verify: other name", defaultVerifyMatch, leafFor("example.com"), false, "match none of mx.provider.net"},
		{"secure: MX host only", defaultSecureMatch, leafFor("mx.provider.net"), false, "match none of example.com, .example.com"},
		{"secure: next hop", defaultSecureMatch, leafFor("example.com"), true, ""},
		{"secure: below next hop", defaultSecureMatch, leafFor("mail.example.com"), true, ""},
		{"policy match list", []string{".provider.net"}, leafFor("mx.provider.net"), true, ""},
		// tls_wildcard_matches_multiple_labels: yes (Postfix's default)
		// lets *.provider.net name mx.eu.provider.net; Go's own check,
		// and "no", take one label only.
		{"wildcard, several labels", []string{"mx.eu.provider.net"}, leafFor("*.provider.net"), true, ""},
		{"wildcard, several labels, multi off", []string{"mx.eu.provider.net"}, leafFor("*.provider.net"), false, "match none of mx.eu.provider.net"},
	}
	for _, tt := range tests {
		multi := !strings.HasSuffix(tt.name, "multi off")
		err := verifyChain([]*x509.Certificate{tt.leaf}, roots, certPatterns(tt.match, dest, tg, multi), now)
		if (err == nil) != tt.ok || err != nil && !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: %v, want ok %v (%q)", tt.name, err, tt.ok, tt.err)
		}
	}
	other := x509.NewCertPool()
	if err := verifyChain([]*x509.Certificate{leafFor("mx.provider.net")}, other, certPatterns(defaultVerifyMatch, dest, tg, true), now); err == nil ||
		!strings.Contains(err.Error(), "not trusted") {
		t.Errorf("an unknown authority: %v", err)
	}
}
