package tlsconf

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
)

// CertPool builds the certificate authorities a TLS client trusts from
// Postfix's *_tls_CAfile (PEM certificates) and *_tls_CApath (a folder of
// them, such as Debian's /etc/ssl/certs). With neither it returns nil:
// crypto/tls then uses the system's authorities. appendDefault
// (tls_append_default_CA) adds the system's authorities to the files'.
func CertPool(caFile, caPath string, appendDefault bool) (*x509.CertPool, error) {
	if caFile == "" && caPath == "" {
		return nil, nil
	}
	pool := x509.NewCertPool()
	if appendDefault {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system CA certificates: %w", err)
		}
		pool = sys
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s: no certificates", caFile)
		}
	}
	if caPath != "" {
		n, err := appendDir(pool, caPath)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("CA path %s: no certificates", caPath)
		}
	}
	return pool, nil
}

// appendDir adds the certificates of every PEM file in dir (symbolic
// links, like the hash links of c_rehash, included) and returns how many
// files had some. Files that hold none are skipped.
func appendDir(pool *x509.CertPool, dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("CA path: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		pem, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // a dangling link or a file we may not read
		}
		if pool.AppendCertsFromPEM(pem) {
			n++
		}
	}
	return n, nil
}
