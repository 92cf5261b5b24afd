// Package dane checks a TLS server's certificate chain against DNS TLSA
// records as SMTP uses them (RFC 7672, "SMTP Security via Opportunistic
// DANE TLS", on RFC 6698 and RFC 7671): DANE-EE(3) records match the
// server's own certificate or public key, with no name or expiry check;
// DANE-TA(2) records match a trust anchor in the chain the server sent,
// from which the server certificate must then chain, be current and
// carry one of the reference names. PKIX-TA(0) and PKIX-EE(1) records
// are unusable in SMTP (RFC 7672 section 3.1.3).
package dane

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Certificate usages, selectors and matching types (RFC 6698 section 2.1,
// RFC 7218 names).
const (
	UsageDANETA = 2 // DANE-TA: a trust anchor of the server's chain
	UsageDANEEE = 3 // DANE-EE: the server's own certificate or key

	SelectorCert = 0 // Cert: the whole certificate (DER)
	SelectorSPKI = 1 // SPKI: the SubjectPublicKeyInfo (DER)

	MatchFull   = 0 // Full: the selected data itself
	MatchSHA256 = 1 // SHA2-256 of the selected data
	MatchSHA512 = 2 // SHA2-512 of the selected data
)

// Record is one TLSA record.
type Record struct {
	Usage, Selector, Matching uint8
	Data                      []byte // certificate association data
}

// ParseRecord builds a record from the presentation form of the
// association data (hexadecimal, as miekg/dns holds it).
func ParseRecord(usage, selector, matching uint8, hexData string) (Record, error) {
	data, err := hex.DecodeString(hexData)
	if err != nil {
		return Record{}, fmt.Errorf("TLSA %d %d %d: association data: %w", usage, selector, matching, err)
	}
	return Record{Usage: usage, Selector: selector, Matching: matching, Data: data}, nil
}

// String writes the record as Postfix logs it: "3 1 1 ABCD...".
func (r Record) String() string {
	return fmt.Sprintf("%d %d %d %s", r.Usage, r.Selector, r.Matching, strings.ToUpper(hex.EncodeToString(r.Data)))
}

// Usable reports whether SMTP clients may use the record: a DANE-TA or
// DANE-EE usage, a known selector and a known matching type with data of
// the digest's length.
func (r Record) Usable() bool {
	if r.Usage != UsageDANETA && r.Usage != UsageDANEEE {
		return false
	}
	if r.Selector != SelectorCert && r.Selector != SelectorSPKI {
		return false
	}
	switch r.Matching {
	case MatchFull:
		return len(r.Data) > 0
	case MatchSHA256:
		return len(r.Data) == sha256.Size
	case MatchSHA512:
		return len(r.Data) == sha512.Size
	}
	return false
}

// Usable returns the records of rs that SMTP clients may use.
func Usable(rs []Record) []Record {
	var out []Record
	for _, r := range rs {
		if r.Usable() {
			out = append(out, r)
		}
	}
	return out
}

// Matches reports whether the record's association data matches cert.
func (r Record) Matches(cert *x509.Certificate) bool {
	sel := cert.Raw
	if r.Selector == SelectorSPKI {
		sel = cert.RawSubjectPublicKeyInfo
	}
	switch r.Matching {
	case MatchFull:
		return bytes.Equal(sel, r.Data)
	case MatchSHA256:
		sum := sha256.Sum256(sel)
		return bytes.Equal(sum[:], r.Data)
	case MatchSHA512:
		sum := sha512.Sum512(sel)
		return bytes.Equal(sum[:], r.Data)
	}
	return false
}

// ErrNoMatch is the failure when no usable record authenticates the
// server's chain.
var ErrNoMatch = errors.New("no TLSA record matches the server certificate chain")

// Verify checks chain (the server's certificates, its own first) against
// the usable records of rs. A DANE-EE record matching the server
// certificate authenticates it at once. A DANE-TA record matching a
// certificate of the chain makes that certificate the trust anchor: the
// server certificate must chain to it, be valid at now and carry one of
// names (the TLSA base domain, and the next-hop domain when the MX lookup
// was secure; RFC 7672 section 3.2.2).
func Verify(rs []Record, chain []*x509.Certificate, names []string, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("the server sent no certificate")
	}
	leaf := chain[0]
	var taErr error
	for _, r := range Usable(rs) {
		switch r.Usage {
		case UsageDANEEE:
			if r.Matches(leaf) {
				return nil
			}
		case UsageDANETA:
			for _, anchor := range chain {
				if !r.Matches(anchor) {
					continue
				}
				err := chainsTo(leaf, anchor, chain[1:], names, now)
				if err == nil {
					return nil
				}
				taErr = err
			}
		}
	}
	if taErr != nil {
		return fmt.Errorf("%w: %v", ErrNoMatch, taErr)
	}
	return ErrNoMatch
}

// chainsTo checks that leaf chains to anchor through the intermediates,
// is valid at now and names one of names.
func chainsTo(leaf, anchor *x509.Certificate, intermediates []*x509.Certificate, names []string, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(anchor)
	inter := x509.NewCertPool()
	for _, c := range intermediates {
		if c != anchor {
			inter.AddCert(c)
		}
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if leaf == anchor {
		// A DANE-TA record that matches the server certificate itself:
		// the certificate is its own anchor, and still needs the name.
		if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
			return fmt.Errorf("certificate of %s is not valid at %s", leaf.Subject, now.UTC().Format(time.RFC3339))
		}
	} else if _, err := leaf.Verify(opts); err != nil {
		return err
	}
	var last error
	for _, n := range names {
		if last = leaf.VerifyHostname(n); last == nil {
			return nil
		}
	}
	if last == nil {
		return errors.New("no reference name to check the certificate against")
	}
	return last
}
