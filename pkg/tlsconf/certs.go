package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// CertSettings are one side's certificate parameters (smtpd_tls_* or
// smtp_tls_*), as main.cf gives them.
type CertSettings struct {
	// Prefix names the parameters in errors: "smtpd" or "smtp".
	Prefix string
	// Chain is *_tls_chain_files: PEM files, each a private key followed
	// by its certificate chain. When set, the others are not read, as in
	// Postfix.
	Chain []string
	// Cert and Key are *_tls_cert_file and *_tls_key_file (RSA, or any
	// key type); ECCert and ECKey are *_tls_eccert_file and
	// *_tls_eckey_file, a second (ECDSA) certificate.
	Cert, Key, ECCert, ECKey string
}

// LoadCertificates loads the certificates s names, nil for none. With
// several, Go's TLS offers each client one its signature algorithms
// accept, as OpenSSL does for Postfix's RSA and ECDSA pairs.
func LoadCertificates(s CertSettings) ([]tls.Certificate, error) {
	if len(s.Chain) > 0 {
		var certs []tls.Certificate
		for _, f := range s.Chain {
			c, err := tls.LoadX509KeyPair(f, f)
			if err != nil {
				return nil, fmt.Errorf("%s_tls_chain_files: %s: %w", s.Prefix, f, err)
			}
			certs = append(certs, c)
		}
		return certs, nil
	}
	var certs []tls.Certificate
	for _, pair := range []struct{ kind, cert, key string }{{"cert", s.Cert, s.Key}, {"eccert", s.ECCert, s.ECKey}} {
		cert, key := strings.TrimSpace(pair.cert), strings.TrimSpace(pair.key)
		if cert == "" {
			continue
		}
		if key == "" {
			key = cert
		}
		c, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			keyKind := strings.TrimSuffix(pair.kind, "cert") + "key"
			return nil, fmt.Errorf("%s_tls_%s_file %s, %s_tls_%s_file %s: %w", s.Prefix, pair.kind, cert, s.Prefix, keyKind, key, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}
