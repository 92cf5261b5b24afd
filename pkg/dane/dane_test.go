package dane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"
)

// testChain makes a CA and a server certificate for names, valid from
// notBefore for a day, and returns the chain server first.
func testChain(t *testing.T, notBefore time.Time, names ...string) (leaf, ca *x509.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test TA"},
		NotBefore: notBefore, NotAfter: notBefore.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: notBefore, NotAfter: notBefore.Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(der)
	return leaf, ca
}

// record builds a TLSA record for cert.
func record(usage, selector, matching uint8, cert *x509.Certificate) Record {
	data := cert.Raw
	if selector == SelectorSPKI {
		data = cert.RawSubjectPublicKeyInfo
	}
	switch matching {
	case MatchSHA256:
		s := sha256.Sum256(data)
		data = s[:]
	case MatchSHA512:
		s := sha512.Sum512(data)
		data = s[:]
	}
	return Record{Usage: usage, Selector: selector, Matching: matching, Data: data}
}

func TestVerify(t *testing.T) {
	now := time.Now()
	leaf, ca := testChain(t, now.Add(-time.Hour), "mx.example.tst")
	other, otherCA := testChain(t, now.Add(-time.Hour), "mx.example.tst")
	expired, expiredCA := testChain(t, now.Add(-48*time.Hour), "mx.example.tst")
	chain := []*x509.Certificate{leaf, ca}
	names := []string{"mx.example.tst", "example.tst"}
	tests := []struct {
		name  string
		rs    []Record
		chain []*x509.Certificate
		names []string
		ok    bool
	}{
		{"DANE-EE SPKI SHA-256", []Record{record(3, 1, 1, leaf)}, chain, names, true},
		{"DANE-EE cert SHA-256", []Record{record(3, 0, 1, leaf)}, chain, names, true},
		{"DANE-EE SPKI SHA-512", []Record{record(3, 1, 2, leaf)}, chain, names, true},
		{"DANE-EE cert full", []Record{record(3, 0, 0, leaf)}, chain, names, true},
		{"DANE-EE ignores names", []Record{record(3, 1, 1, leaf)}, chain, []string{"elsewhere.tst"}, true},
		{"DANE-EE ignores expiry", []Record{record(3, 1, 1, expired)}, []*x509.Certificate{expired}, names, true},
		{"DANE-EE other key", []Record{record(3, 1, 1, other)}, chain, names, false},
		{"DANE-EE second record matches", []Record{record(3, 1, 1, other), record(3, 1, 1, leaf)}, chain, names, true},
		{"DANE-TA SPKI SHA-256", []Record{record(2, 1, 1, ca)}, chain, names, true},
		{"DANE-TA cert SHA-512", []Record{record(2, 0, 2, ca)}, chain, names, true},
		{"DANE-TA next-hop name", []Record{record(2, 0, 1, ca)}, chain, []string{"other.tst", "mx.example.tst"}, true},
		{"DANE-TA wrong name", []Record{record(2, 0, 1, ca)}, chain, []string{"elsewhere.tst"}, false},
		{"DANE-TA expired leaf", []Record{record(2, 0, 1, expiredCA)}, []*x509.Certificate{expired, expiredCA}, names, false},
		{"DANE-TA anchor not sent", []Record{record(2, 0, 1, ca)}, []*x509.Certificate{leaf}, names, false},
		{"DANE-TA other anchor", []Record{record(2, 0, 1, otherCA)}, chain, names, false},
		{"DANE-TA chain of another anchor", []Record{record(2, 0, 1, otherCA)}, []*x509.Certificate{leaf, otherCA}, names, false},
		{"PKIX-EE unusable", []Record{record(1, 1, 1, leaf)}, chain, names, false},
		{"PKIX-TA unusable", []Record{record(0, 1, 1, ca)}, chain, names, false},
		{"no chain", []Record{record(3, 1, 1, leaf)}, nil, names, false},
		{"no records", nil, chain, names, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.rs, tt.chain, tt.names, now)
			if (err == nil) != tt.ok {
				t.Fatalf("Verify = %v, want ok %v", err, tt.ok)
			}
			if err != nil && len(tt.chain) > 0 && !errors.Is(err, ErrNoMatch) {
				t.Errorf("Verify = %v, want ErrNoMatch", err)
			}
		})
	}
}

func TestUsable(t *testing.T) {
	d32, d64 := make([]byte, 32), make([]byte, 64)
	tests := []struct {
		r    Record
		want bool
	}{
		{Record{3, 1, 1, d32}, true},
		{Record{2, 0, 2, d64}, true},
		{Record{3, 0, 0, []byte{1}}, true},
		{Record{3, 1, 1, d64}, false}, // wrong length for SHA-256
		{Record{3, 1, 2, d32}, false},
		{Record{3, 0, 0, nil}, false},
		{Record{1, 1, 1, d32}, false}, // PKIX-EE
		{Record{0, 1, 1, d32}, false}, // PKIX-TA
		{Record{4, 1, 1, d32}, false},
		{Record{3, 2, 1, d32}, false},
		{Record{3, 1, 3, d32}, false},
	}
	for _, tt := range tests {
		if got := tt.r.Usable(); got != tt.want {
			t.Errorf("%v.Usable() = %v, want %v", tt.r, got, tt.want)
		}
	}
	if n := len(Usable([]Record{tests[0].r, tests[6].r})); n != 1 {
		t.Errorf("Usable kept %d records, want 1", n)
	}
}

func TestParseRecord(t *testing.T) {
	r, err := ParseRecord(3, 1, 1, "ab01")
	if err != nil || r.String() != "3 1 1 AB01" {
		t.Errorf("ParseRecord = %v, %v", r, err)
	}
	if _, err := ParseRecord(3, 1, 1, "xyz"); err == nil {
		t.Error("ParseRecord accepted bad hex")
	}
}
