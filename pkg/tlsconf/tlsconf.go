// Package tlsconf reads Postfix's TLS protocol lists (smtpd_tls_protocols,
// smtp_tls_mandatory_protocols, ...) into crypto/tls versions, and holds
// the TLS helpers smtpd and the smtp client share (CA pools, fingerprints,
// the summary of a connection).
package tlsconf

import (
	"crypto/md5"  //nolint:gosec // Postfix's *_tls_fingerprint_digest offers md5
	"crypto/sha1" //nolint:gosec // and sha1, for tables written for them
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"hash"
	"strings"
)

var versions = []struct {
	name string
	v    uint16
}{{"TLSv1", tls.VersionTLS10}, {"TLSv1.1", tls.VersionTLS11}, {"TLSv1.2", tls.VersionTLS12}, {"TLSv1.3", tls.VersionTLS13}}

// MinVersion reads a protocol list of parameter param: ">=TLSv1.2", or
// exclusions like "!SSLv2, !SSLv3, !TLSv1", or protocols named to allow.
// SSL versions are never offered, so naming them changes nothing.
func MinVersion(param, list string) (uint16, error) {
	min := uint16(tls.VersionTLS10)
	for _, p := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == ':' || r == '\t' }) {
		switch {
		case strings.HasPrefix(p, ">="):
			v, ok := Version(p[2:])
			if !ok {
				return 0, fmt.Errorf("%s: unknown protocol %q", param, p)
			}
			min = max(min, v)
		case strings.HasPrefix(p, "!"):
			if strings.HasPrefix(p[1:], "SSL") {
				continue
			}
			v, ok := Version(p[1:])
			if !ok {
				return 0, fmt.Errorf("%s: unknown protocol %q", param, p)
			}
			if v >= min && v < tls.VersionTLS13 {
				min = v + 1
			}
		default:
			if _, ok := Version(p); !ok && !strings.HasPrefix(p, "SSL") {
				return 0, fmt.Errorf("%s: unknown protocol %q", param, p)
			}
		}
	}
	return min, nil
}

// Version returns the version named as Postfix does ("TLSv1.2").
func Version(name string) (uint16, bool) {
	for _, t := range versions {
		if strings.EqualFold(t.name, name) {
			return t.v, true
		}
	}
	return 0, false
}

// Name returns Postfix's name of a version, or "TLS" for an unknown one.
func Name(v uint16) string {
	for _, t := range versions {
		if t.v == v {
			return t.name
		}
	}
	return "TLS"
}

// Summary describes a TLS session as Postfix's TLS log lines do:
// "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)".
func Summary(st *tls.ConnectionState) string {
	cipher := tls.CipherSuiteName(st.CipherSuite)
	bits := 128
	if strings.Contains(cipher, "AES_256") || strings.Contains(cipher, "CHACHA20") {
		bits = 256
	}
	return fmt.Sprintf("%s with cipher %s (%d/%d bits)", Name(st.Version), cipher, bits, bits)
}

// Digest returns the hash of a *_tls_fingerprint_digest setting: md5,
// sha1 or sha256 (an empty value means sha256, Postfix's default from
// compatibility level 3.6).
func Digest(name string) (func() hash.Hash, error) {
	switch d := strings.ToLower(strings.TrimSpace(name)); d {
	case "md5":
		return md5.New, nil
	case "sha1":
		return sha1.New, nil
	case "sha256", "":
		return sha256.New, nil
	default:
		return nil, fmt.Errorf("unknown digest %q (md5, sha1 or sha256)", d)
	}
}

// Fingerprint is Postfix's form of a certificate or public key digest:
// upper-case hex pairs joined by colons.
func Fingerprint(digest func() hash.Hash, der []byte) string {
	h := digest()
	h.Write(der)
	sum := h.Sum(nil)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
