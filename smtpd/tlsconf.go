package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// tlsConfig builds the server TLS configuration from smtpd_tls_cert_file
// and smtpd_tls_key_file (or smtpd_tls_chain_files: key and certificates
// in one PEM file each). It returns nil when the level is none and wrapper
// mode is off; a level that needs TLS without a certificate is an error.
func tlsConfig(cfg *config.Config, set settings) (*tls.Config, error) {
	if set.tlsLevel == "none" && !set.wrapperMode {
		return nil, nil
	}
	var certs []tls.Certificate
	if chain := cfg.List("smtpd_tls_chain_files"); len(chain) > 0 {
		for _, f := range chain {
			c, err := tls.LoadX509KeyPair(f, f)
			if err != nil {
				return nil, fmt.Errorf("smtpd_tls_chain_files: %s: %w", f, err)
			}
			certs = append(certs, c)
		}
	} else {
		certFile, keyFile := cfg.Get("smtpd_tls_cert_file"), cfg.Get("smtpd_tls_key_file")
		if certFile == "" {
			return nil, fmt.Errorf("smtpd_tls_security_level = %s (or smtpd_tls_wrappermode) needs smtpd_tls_cert_file", set.tlsLevel)
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("smtpd_tls_cert_file %s, smtpd_tls_key_file %s: %w", certFile, keyFile, err)
		}
		certs = append(certs, c)
	}
	min, err := minTLSVersion(cfg.Get("smtpd_tls_protocols"))
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: certs, MinVersion: min}, nil
}

var tlsVersions = []struct {
	name string
	v    uint16
}{{"TLSv1", tls.VersionTLS10}, {"TLSv1.1", tls.VersionTLS11}, {"TLSv1.2", tls.VersionTLS12}, {"TLSv1.3", tls.VersionTLS13}}

// minTLSVersion reads Postfix's protocol list: ">=TLSv1.2", or exclusions
// like "!SSLv2, !SSLv3, !TLSv1". SSL versions are never offered.
func minTLSVersion(list string) (uint16, error) {
	min := uint16(tls.VersionTLS10)
	for _, p := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ':' }) {
		switch {
		case strings.HasPrefix(p, ">="):
			v, ok := tlsVersion(p[2:])
			if !ok {
				return 0, fmt.Errorf("smtpd_tls_protocols: unknown protocol %q", p)
			}
			min = max(min, v)
		case strings.HasPrefix(p, "!"):
			if strings.HasPrefix(p[1:], "SSL") {
				continue
			}
			v, ok := tlsVersion(p[1:])
			if !ok {
				return 0, fmt.Errorf("smtpd_tls_protocols: unknown protocol %q", p)
			}
			if v >= min && v < tls.VersionTLS13 {
				min = v + 1
			}
		default:
			if _, ok := tlsVersion(p); !ok && !strings.HasPrefix(p, "SSL") {
				return 0, fmt.Errorf("smtpd_tls_protocols: unknown protocol %q", p)
			}
		}
	}
	return min, nil
}

func tlsVersion(name string) (uint16, bool) {
	for _, t := range tlsVersions {
		if strings.EqualFold(t.name, name) {
			return t.v, true
		}
	}
	return 0, false
}

// tlsSummary describes a TLS session as Postfix's Received header does:
// "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)".
func tlsSummary(st *tls.ConnectionState) string {
	name := "TLS"
	for _, t := range tlsVersions {
		if t.v == st.Version {
			name = t.name
		}
	}
	bits := 128
	if strings.Contains(tls.CipherSuiteName(st.CipherSuite), "256") || strings.Contains(tls.CipherSuiteName(st.CipherSuite), "CHACHA20") {
		bits = 256
	}
	return fmt.Sprintf("%s with cipher %s (%d/%d bits)", name, tls.CipherSuiteName(st.CipherSuite), bits, bits)
}
