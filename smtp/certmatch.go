package smtp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tern-mta/tern/smtp/client"
)

// Postfix's defaults for smtp_tls_verify_cert_match and
// smtp_tls_secure_cert_match: verify checks the server's host name (as
// found, through MX records that DNS may have forged); secure checks the
// next-hop domain or a subdomain of it, which a forged MX cannot change.
var (
	defaultVerifyMatch = []string{"hostname"}
	defaultSecureMatch = []string{"nexthop", "dot-nexthop"}
)

// namePattern is one name a server certificate may carry: exactly name,
// or, with sub, any name below it. multi lets a certificate's wildcard
// stand for several labels (tls_wildcard_matches_multiple_labels).
type namePattern struct {
	name  string
	sub   bool
	multi bool
}

// certPatterns turns a match list (smtp_tls_*_cert_match, or a policy's
// match= attributes) into the names a certificate must carry for server
// t of dest: hostname is the server's name, nexthop the next-hop domain,
// dot-nexthop any name below it; other words are names, a leading dot
// meaning any name below.
func certPatterns(match []string, dest destination, t target, multi bool) []namePattern {
	var out []namePattern
	for _, m := range match {
		m = strings.ToLower(strings.TrimSpace(m))
		switch {
		case m == "":
		case m == "hostname":
			out = append(out, namePattern{name: t.name})
		case m == "nexthop":
			out = append(out, namePattern{name: strings.ToLower(dest.host)})
		case m == "dot-nexthop":
			out = append(out, namePattern{name: strings.ToLower(dest.host), sub: true})
		case strings.HasPrefix(m, "."):
			out = append(out, namePattern{name: m[1:], sub: true})
		default:
			out = append(out, namePattern{name: m})
		}
	}
	for i := range out {
		out[i].multi = multi
	}
	return out
}

// matches reports whether certificate name cn (a DNS name of its subject
// alternative names, perhaps "*.example.com") satisfies p. A wildcard
// stands for one label, or with p.multi for one or more, as with
// Postfix's default tls_wildcard_matches_multiple_labels = yes.
func (p namePattern) matches(cn string) bool {
	cn = strings.ToLower(strings.TrimSuffix(cn, "."))
	name := strings.TrimSuffix(p.name, ".")
	if rest, ok := strings.CutPrefix(cn, "*."); ok {
		// *.rest covers one label below rest.
		if p.sub {
			return rest == name || strings.HasSuffix(rest, "."+name)
		}
		if p.multi {
			return strings.HasSuffix(name, "."+rest) && len(name) > len(rest)+1
		}
		first, parent, ok := strings.Cut(name, ".")
		return ok && first != "" && parent == rest
	}
	if p.sub {
		return strings.HasSuffix(cn, "."+name)
	}
	return cn == name
}

// certificateMatches reports whether leaf carries a name that satisfies
// one of patterns. An exact name is checked as crypto/x509 checks host
// names (so an address literal next hop matches an IP address of the
// certificate); a name with all below it against the DNS names.
func certificateMatches(leaf *x509.Certificate, patterns []namePattern) bool {
	for _, p := range patterns {
		if !p.sub {
			if leaf.VerifyHostname(p.name) == nil {
				return true
			}
			if !p.multi {
				continue
			}
		}
		for _, cn := range leaf.DNSNames {
			if p.matches(cn) {
				return true
			}
		}
	}
	return false
}

// verifyConfig is the TLS configuration of the verify and secure levels:
// the chain must lead to one of the trusted authorities, and the server
// certificate must carry a name of match (Postfix's
// smtp_tls_verify_cert_match and smtp_tls_secure_cert_match, or the
// policy's match=).
func (a *Agent) verifyConfig(level client.TLSLevel, dest destination, t target, match []string) *tls.Config {
	if len(match) == 0 {
		match = a.set.verifyMatch
		if level == client.TLSSecure {
			match = a.set.secureMatch
		}
	}
	patterns := certPatterns(match, dest, t, a.set.wildcardMulti)
	roots := a.set.rootCAs
	return &tls.Config{ServerName: t.name, InsecureSkipVerify: true, //nolint:gosec // checked by VerifyConnection
		MinVersion: max(a.set.tlsMandatoryMin, tls.VersionTLS12), ClientSessionCache: a.set.checkedSessions,
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, roots, patterns, time.Now())
		}}
}

// verifyChain checks a server chain against roots (nil: the system's)
// and the names of patterns.
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, patterns []namePattern, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("server certificate not verified: no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	leaf := chain[0]
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("server certificate not trusted: %w", err)
	}
	if !certificateMatches(leaf, patterns) {
		var want []string
		for _, p := range patterns {
			if p.sub {
				want = append(want, "."+p.name)
			} else {
				want = append(want, p.name)
			}
		}
		return fmt.Errorf("server certificate not verified: its names (%s) match none of %s",
			strings.Join(leaf.DNSNames, ", "), strings.Join(want, ", "))
	}
	return nil
}
