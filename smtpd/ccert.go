package smtpd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/tlsconf"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// clientCertSettings are the parameters of TLS client certificates.
type clientCertSettings struct {
	ask     bool             // smtpd_tls_ask_ccert (or req)
	require bool             // smtpd_tls_req_ccert
	roots   *x509.CertPool   // smtpd_tls_CAfile, smtpd_tls_CApath; nil: none trusted
	digest  func() hash.Hash // smtpd_tls_fingerprint_digest
}

// loadClientCertSettings reads the client certificate parameters.
func loadClientCertSettings(cfg *config.Config) (clientCertSettings, error) {
	s := clientCertSettings{ask: cfg.Bool("smtpd_tls_ask_ccert") || cfg.Bool("smtpd_tls_req_ccert"),
		require: cfg.Bool("smtpd_tls_req_ccert")}
	var err error
	if s.digest, err = tlsconf.Digest(cfg.Get("smtpd_tls_fingerprint_digest")); err != nil {
		return s, fmt.Errorf("smtpd_tls_fingerprint_digest: %w", err)
	}
	s.roots, err = tlsconf.CertPool(cfg.Get("smtpd_tls_CAfile"), cfg.Get("smtpd_tls_CApath"), false)
	if err != nil {
		return s, fmt.Errorf("smtpd_tls_CAfile, smtpd_tls_CApath: %w", err)
	}
	return s, nil
}

// clientCert describes the certificate a client presented, nil for none:
// its fingerprints, and whether it chains to one of roots (with the
// client authentication usage, or none given).
func (s clientCertSettings) clientCert(st *tls.ConnectionState) *restrict.ClientCert {
	if st == nil || len(st.PeerCertificates) == 0 {
		return nil
	}
	leaf := st.PeerCertificates[0]
	c := &restrict.ClientCert{Fingerprint: s.fingerprint(leaf.Raw), PublicKeyFingerprint: s.fingerprint(leaf.RawSubjectPublicKeyInfo)}
	if s.roots != nil {
		inter := x509.NewCertPool()
		for _, ic := range st.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: s.roots, Intermediates: inter,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		c.Trusted = err == nil
	}
	return c
}

// fingerprint is Postfix's form of a digest: upper-case hex pairs joined
// by colons.
func (s clientCertSettings) fingerprint(der []byte) string {
	return tlsconf.Fingerprint(s.digest, der)
}

// certTrust is the word of the TLS log line: Trusted, Untrusted or
// Anonymous (no certificate).
func certTrust(c *restrict.ClientCert) string {
	switch {
	case c == nil:
		return "Anonymous"
	case c.Trusted:
		return "Trusted"
	}
	return "Untrusted"
}
