package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testChain makes a CA certificate (PEM) and a leaf it signed.
func testChain(t *testing.T) (caPEM []byte, leaf *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	l := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mx.example.tst"},
		DNSNames: []string{"mx.example.tst"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, l, caCert, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ = x509.ParseCertificate(leafDER)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), leaf
}

// TestCertPoolCApath: smtp_tls_CApath (Debian's main.cf sets
// /etc/ssl/certs) was ignored; its certificates are trusted now.
func TestCertPoolCApath(t *testing.T) {
	caPEM, leaf := testChain(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test-ca.pem"), caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("test-ca.pem", filepath.Join(dir, "0123abcd.0")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing.pem", filepath.Join(dir, "dangling.0")); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "test-ca.pem")
	for _, tt := range []struct{ file, path string }{{"", dir}, {file, ""}, {file, dir}} {
		pool, err := CertPool(tt.file, tt.path, false)
		if err != nil {
			t.Fatalf("CertPool(%q, %q): %v", tt.file, tt.path, err)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "mx.example.tst"}); err != nil {
			t.Errorf("CertPool(%q, %q): the leaf does not verify: %v", tt.file, tt.path, err)
		}
	}
	if pool, err := CertPool("", "", false); pool != nil || err != nil {
		t.Errorf("CertPool with neither = %v, %v; want nil (the system's)", pool, err)
	}
	empty := t.TempDir()
	for _, tt := range []struct{ file, path, want string }{
		{"", empty, "no certificates"},
		{filepath.Join(dir, "README"), "", "no certificates"},
		{filepath.Join(dir, "nosuch.pem"), "", "no such file"},
		{"", filepath.Join(dir, "nosuchdir"), "no such file"},
	} {
		if _, err := CertPool(tt.file, tt.path, false); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("CertPool(%q, %q) = %v, want an error with %q", tt.file, tt.path, err, tt.want)
		}
	}
}
