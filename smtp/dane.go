package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/dane"
	"github.com/tern-mta/tern/pkg/tlsconf"
	"github.com/tern-mta/tern/smtp/client"
	"github.com/tern-mta/tern/smtp/mx"
)

// The dane levels of smtp_tls_security_level (RFC 7672). The client sees
// them resolved per server into may, encrypt or client.TLSDane.
const (
	levelDane     client.TLSLevel = "dane"
	levelDaneOnly client.TLSLevel = "dane-only"
)

// DNS support levels (smtp_dns_support_level).
const (
	dnsDisabled = "disabled"
	dnsEnabled  = "enabled"
	dnsDNSSEC   = "dnssec"
)

// loadDANE reads smtp_dns_support_level (or disable_dns_lookups) and the
// fingerprint level's parameters, and checks that the dane levels have
// the DNSSEC they need.
func (s *settings) loadDANE(cfg *config.Config, p string) error {
	s.dnsLevel = strings.ToLower(strings.TrimSpace(cfg.Get("smtp_dns_support_level")))
	switch s.dnsLevel {
	case "":
		s.dnsLevel = dnsEnabled
		if cfg.Bool("disable_dns_lookups") {
			s.dnsLevel = dnsDisabled
		}
	case dnsDisabled, dnsEnabled, dnsDNSSEC:
	default:
		return fmt.Errorf("smtp_dns_support_level: unknown level %q (disabled, enabled or dnssec)", s.dnsLevel)
	}
	var err error
	if s.digest, err = tlsconf.Digest(cfg.Get(p + "tls_fingerprint_digest")); err != nil {
		return fmt.Errorf("%stls_fingerprint_digest: %w", p, err)
	}
	for _, f := range cfg.List(p + "tls_fingerprint_cert_match") {
		s.fingerprints = append(s.fingerprints, strings.ToUpper(f))
	}
	if s.verifyMatch = cfg.List(p + "tls_verify_cert_match"); len(s.verifyMatch) == 0 {
		s.verifyMatch = defaultVerifyMatch
	}
	if s.secureMatch = cfg.List(p + "tls_secure_cert_match"); len(s.secureMatch) == 0 {
		s.secureMatch = defaultSecureMatch
	}
	s.wildcardMulti = cfg.Bool("tls_wildcard_matches_multiple_labels")
	if (s.tlsLevel == levelDane || s.tlsLevel == levelDaneOnly) && s.dnsLevel != dnsDNSSEC {
		fallback := client.TLSMay
		if s.tlsLevel == levelDaneOnly {
			fallback = client.TLSEncrypt
		}
		s.warnings = append(s.warnings, fmt.Sprintf("%stls_security_level = %s needs smtp_dns_support_level = dnssec: using %s",
			p, s.tlsLevel, fallback))
		s.tlsLevel = fallback
	}
	return nil
}

// tlsPolicy is one smtp_tls_policy_maps entry: a level and the values of
// its match= attributes: fingerprints for the fingerprint level, name
// strategies for verify and secure.
type tlsPolicy struct {
	level   string
	matches []string
	ignored []string // attributes tern does not use, such as protocols=
}

// parsePolicy reads "level [name=value ...]". match= values are
// "|"-separated fingerprints for the fingerprint level and ":"-separated
// names or strategies for verify and secure (Postfix's syntax); a match=
// may repeat. Other levels take no match=.
func parsePolicy(v string) tlsPolicy {
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return tlsPolicy{}
	}
	pol := tlsPolicy{level: strings.ToLower(fields[0])}
	for _, f := range fields[1:] {
		name, value, ok := strings.Cut(f, "=")
		if !ok || !strings.EqualFold(name, "match") {
			pol.ignored = append(pol.ignored, f)
			continue
		}
		switch client.TLSLevel(pol.level) {
		case client.TLSFingerprint:
			for _, m := range strings.Split(value, "|") {
				if m != "" {
					pol.matches = append(pol.matches, strings.ToUpper(m))
				}
			}
		case client.TLSVerify, client.TLSSecure:
			for _, m := range strings.Split(value, ":") {
				if m != "" {
					pol.matches = append(pol.matches, strings.ToLower(m))
				}
			}
		default:
			pol.ignored = append(pol.ignored, f)
		}
	}
	return pol
}

// errFingerprint is the failure of the fingerprint level.
var errFingerprint = errors.New("server certificate not trusted: no certificate or public key fingerprint matches")

// fingerprintConfig checks the server certificate, or its public key, by
// fingerprint (Postfix's fingerprint level): no CA, name or expiry check.
func (a *Agent) fingerprintConfig(t target, matches []string) *tls.Config {
	digest := a.set.digest
	return &tls.Config{ServerName: t.name, InsecureSkipVerify: true, //nolint:gosec // checked by VerifyConnection
		MinVersion: max(a.set.tlsMandatoryMin, tls.VersionTLS12),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errFingerprint
			}
			leaf := cs.PeerCertificates[0]
			if slices.Contains(matches, tlsconf.Fingerprint(digest, leaf.Raw)) ||
				slices.Contains(matches, tlsconf.Fingerprint(digest, leaf.RawSubjectPublicKeyInfo)) {
				return nil
			}
			return errFingerprint
		}}
}

// lookupTLSA finds the TLSA records of server t (RFC 7672 section
// 2.2.2): when the host name led through a validated CNAME chain to its
// address, at the end of the chain first, then at the host name. base is
// the name whose records were used.
func (a *Agent) lookupTLSA(ctx context.Context, t target, port int) (tlsa mx.TLSA, base string, err error) {
	if t.canonical != "" {
		tlsa, err = a.resolver.LookupTLSA(ctx, t.canonical, port)
		if err != nil || (tlsa.Secure && len(tlsa.Records) > 0) || !tlsa.Secure {
			return tlsa, t.canonical, err
		}
	}
	tlsa, err = a.resolver.LookupTLSA(ctx, t.name, port)
	return tlsa, t.name, err
}

// settleDANE resolves the dane levels for server t (RFC 7672 section
// 2.2): a host found through DNSSEC-validated MX and address lookups
// with validated, usable TLSA records at _port._tcp.host must present a
// certificate they match (client.TLSDane); without validated TLSA
// records dane falls back to may, with only unusable ones to encrypt,
// and dane-only defers the host instead. A failed TLSA lookup (bogus
// data) defers the host at both levels. The result is the host's
// outcome when it is not to be tried.
func (a *Agent) settleDANE(ctx context.Context, dest destination, t target, opt *client.Options) *agent.Result {
	level := opt.TLSLevel
	if level != levelDane && level != levelDaneOnly {
		return nil
	}
	if a.set.dnsLevel != dnsDNSSEC {
		opt.TLSLevel = client.TLSMay
		if level == levelDaneOnly {
			opt.TLSLevel = client.TLSEncrypt
		}
		opt.TLSConfig = a.levelConfig(opt.TLSLevel, dest, t, nil)
		return nil
	}
	insecure := func(why string) *agent.Result {
		if level == levelDaneOnly {
			r := agent.Deferf("4.7.5", "TLS is required, but %s has no usable DANE TLSA records: %s", t.peer(), why)
			return &r
		}
		opt.TLSLevel = client.TLSMay
		opt.TLSConfig = a.levelConfig(client.TLSMay, dest, t, nil)
		return nil
	}
	if !t.secure {
		return insecure("its address was not found through DNSSEC-validated lookups")
	}
	port := dest.port
	tlsa, base, err := a.lookupTLSA(ctx, t, port)
	if err != nil {
		r := agent.Deferf("4.7.5", "TLSA lookup error for %s:%d: %v", base, port, err)
		return &r
	}
	if !tlsa.Secure || len(tlsa.Records) == 0 {
		return insecure(fmt.Sprintf("no DNSSEC-validated TLSA records at _%d._tcp.%s", port, t.name))
	}
	usable := dane.Usable(tlsa.Records)
	if len(usable) == 0 {
		if level == levelDaneOnly {
			return insecure("none of its TLSA records is usable")
		}
		opt.TLSLevel = client.TLSEncrypt
		opt.TLSConfig = a.levelConfig(client.TLSEncrypt, dest, t, nil)
		return nil
	}
	// The names a DANE-TA certificate may carry (RFC 7672 section 3.2.2):
	// the TLSA base, the MX host's own name and the next-hop domain.
	names := []string{base}
	if !strings.EqualFold(base, t.name) {
		names = append(names, t.name)
	}
	if dest.mx && !strings.EqualFold(dest.host, t.name) {
		names = append(names, dest.host)
	}
	opt.TLSLevel = client.TLSDane
	opt.TLSConfig = &tls.Config{ServerName: base, InsecureSkipVerify: true, //nolint:gosec // checked by VerifyConnection
		MinVersion: max(a.set.tlsMandatoryMin, tls.VersionTLS12), Certificates: a.set.clientCerts,
		CipherSuites: a.set.mandatorySuites,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if err := dane.Verify(usable, cs.PeerCertificates, names, time.Now()); err != nil {
				return fmt.Errorf("server certificate not trusted: %w", err)
			}
			return nil
		}}
	return nil
}

// warnIgnored logs, once per policy entry, the attributes of a
// smtp_tls_policy_maps entry that tern does not use.
func (a *Agent) warnIgnored(dest destination, pol tlsPolicy) {
	if len(pol.ignored) == 0 || a.log == nil {
		return
	}
	key := dest.key() + " " + strings.Join(pol.ignored, " ")
	if _, seen := a.warned.LoadOrStore(key, true); seen {
		return
	}
	a.log.Warnf("smtp_tls_policy_maps: %s: %s not supported by tern: ignored", dest.key(), strings.Join(pol.ignored, ", "))
}
