package smtpd

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"

	"github.com/tern-mta/tern/pkg/maps"
)

// writeKeyAndCert writes a self-signed certificate for name and its key
// into one PEM file (key first, as smtpd_tls_chain_files has them).
func writeKeyAndCert(t *testing.T, dir, name string) string {
	t.Helper()
	keyPEM, certPEM := testutil.SelfSignedPEM(t, name, nil)
	path := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(path, append(keyPEM, certPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServerSNIMaps: tls_server_sni_maps was an unknown name, so a host
// serving several domains showed every client the one certificate. The
// certificate now follows the SNI name, from a table built with
// "tern map -F" (its parent domains with a leading dot too), and a name
// the table does not know gets smtpd's own.
func TestServerSNIMaps(t *testing.T) {
	dir := t.TempDir()
	def := writeKeyAndCert(t, dir, "mx.example.tst")
	customer := writeKeyAndCert(t, dir, "mail.customer.tst")
	wild := writeKeyAndCert(t, dir, "any.hosted.tst")
	src := filepath.Join(dir, "sni")
	if err := os.WriteFile(src, []byte("mail.customer.tst "+customer+"\n.hosted.tst "+wild+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := maps.BuildWith("hash", src, maps.BuildOptions{FileValues: true}); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "smtpd_tls_security_level = may\nsmtpd_tls_chain_files = "+def+"\ntls_server_sni_maps = hash:"+src)
	for sni, want := range map[string]string{"mail.customer.tst": "mail.customer.tst", "pop.hosted.tst": "any.hosted.tst",
		"other.tst": "mx.example.tst", "": "mx.example.tst"} {
		if got := starttlsCertName(t, ts.addr, sni); got != want {
			t.Errorf("SNI %q: certificate of %q, want %q", sni, got, want)
		}
	}
}

// starttlsCertName says EHLO and STARTTLS with the SNI name sni and
// returns the name of the certificate the server shows.
func starttlsCertName(t *testing.T, addr, sni string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &testClient{t: t, c: conn, br: bufio.NewReader(conn)}
	c.expect("220 ")
	if ehlo := c.cmd("EHLO client.example.tst", "250"); !strings.Contains(ehlo, "STARTTLS") {
		t.Fatalf("no STARTTLS offered:\n%s", ehlo)
	}
	c.cmd("STARTTLS", "220")
	tc := tls.Client(conn, &tls.Config{ServerName: sni, InsecureSkipVerify: true}) //nolint:gosec // the name is the test's subject
	if err := tc.Handshake(); err != nil {
		t.Fatalf("handshake with SNI %q: %v", sni, err)
	}
	return tc.ConnectionState().PeerCertificates[0].Subject.CommonName
}
