package tlsconf

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/tern-mta/tern/internal/testutil"
)

// writePair writes a self-signed certificate for cn with key k to dir and
// returns the certificate and key file names.
func writePair(t *testing.T, dir, cn string, k crypto.Signer) (certFile, keyFile string) {
	t.Helper()
	keyPEM, certPEM := testutil.SelfSignedPEM(t, cn, k)
	certFile, keyFile = filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
	for f, b := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

// servedName returns the common name of the certificate a server with
// certs shows a TLS 1.2 client limited to suites.
func servedName(t *testing.T, certs []tls.Certificate, suites []uint16) string {
	t.Helper()
	c, s := net.Pipe()
	defer c.Close()
	defer s.Close()
	go func() {
		_ = tls.Server(s, &tls.Config{Certificates: certs}).Handshake()
	}()
	cl := tls.Client(c, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: suites})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	return cl.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestLoadCertificatesRSAAndECDSA: smtpd_tls_eccert_file and
// smtpd_tls_eckey_file were unknown names. With both pairs a client gets
// the certificate it can use, as with Postfix and OpenSSL.
func TestLoadCertificatesRSAAndECDSA(t *testing.T) {
	dir := t.TempDir()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rc, rkf := writePair(t, dir, "rsa.example", rk)
	ec, ekf := writePair(t, dir, "ec.example", ek)
	certs, err := LoadCertificates(CertSettings{Prefix: "smtpd", Cert: rc, Key: rkf, ECCert: ec, ECKey: ekf})
	if err != nil || len(certs) != 2 {
		t.Fatalf("LoadCertificates: %d certificates, %v", len(certs), err)
	}
	if got := servedName(t, certs, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}); got != "ec.example" {
		t.Errorf("an ECDSA client got %s", got)
	}
	if got := servedName(t, certs, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}); got != "rsa.example" {
		t.Errorf("an RSA client got %s", got)
	}
	if _, err := LoadCertificates(CertSettings{Prefix: "smtpd", ECCert: ec, ECKey: rkf}); err == nil {
		t.Error("a key that does not match its certificate was taken")
	}
	if certs, err := LoadCertificates(CertSettings{Prefix: "smtp"}); err != nil || certs != nil {
		t.Errorf("nothing configured: %v, %v", certs, err)
	}
}
