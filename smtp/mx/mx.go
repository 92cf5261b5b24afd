// Package mx is the DNS part of tern's SMTP client: it finds the hosts and
// addresses to deliver a domain's mail to, with Postfix 3.7 smtp(8)
// semantics, RFC 5321 section 5.1 and RFC 7505 (null MX). It asks the name
// servers directly with github.com/miekg/dns: UDP with EDNS0, TCP when an
// answer is truncated.
//
// Order of the results. MX hosts come in preference order, hosts of equal
// preference in random order (RFC 5321 section 5.1). The addresses of one
// host are in random order too, as with Postfix's defaults
// smtp_randomize_addresses = yes and smtp_address_preference = any; with
// Preference set to PreferIPv6 or PreferIPv4 the addresses of that family
// come first, each family still in random order. The random source is
// per Resolver, so that tests can seed it.
package mx

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/tern-mta/tern/pkg/idn"
)

// Bounds on what one lookup returns.
const (
	MaxHosts = 100 // MX hosts looked up and returned, the most preferred first
	MaxAddrs = 500 // addresses returned in all, over all hosts
)

// lookupWorkers bounds the MX host address lookups that run at once.
const lookupWorkers = 4

// AddrPreference orders the addresses of a host: Postfix's
// smtp_address_preference.
type AddrPreference int

// Address preferences.
const (
	PreferAny  AddrPreference = iota // "any": both families mixed at random
	PreferIPv6                       // "ipv6": IPv6 addresses first
	PreferIPv4                       // "ipv4": IPv4 addresses first
)

// ParseAddrPreference parses a smtp_address_preference value.
func ParseAddrPreference(s string) (AddrPreference, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "any":
		return PreferAny, nil
	case "ipv6":
		return PreferIPv6, nil
	case "ipv4":
		return PreferIPv4, nil
	}
	return PreferAny, fmt.Errorf("address preference %q: want any, ipv4 or ipv6", s)
}

// Resolver asks DNS servers directly. Its exported fields must not change
// while lookups run; lookups may run concurrently.
type Resolver struct {
	Servers  []string      // "ip:port", tried in order
	Timeout  time.Duration // per query (default 5s)
	Attempts int           // rounds over Servers (default 2)
	// IPv4 and IPv6 select the address families returned (inet_protocols).
	// When both are false, both families are returned.
	IPv4, IPv6 bool
	Preference AddrPreference // order of a host's addresses (smtp_address_preference)
	// Logf, when set, receives warnings about records that were skipped,
	// such as an MX record naming an IP address.
	Logf func(format string, args ...any)
	// Native, when set, finds a host's addresses the system's way
	// (/etc/hosts, then the system resolver), as Postfix's
	// smtp_host_lookup = native; NativeFirst says it is asked before DNS
	// (native alone, or "native, dns"), otherwise after a DNS failure
	// ("dns, native"). MX records are always asked of DNS.
	Native      func(ctx context.Context, host string) ([]netip.Addr, error)
	NativeFirst bool
	// DeferNoMXAddress makes "no MX host has an address" temporary
	// (Postfix's smtp_defer_if_no_mx_address_found): the ErrNotFound
	// error is then Soft.
	DeferNoMXAddress bool
	// DNSOff leaves DNS out of host address lookups (smtp_host_lookup =
	// native).
	DNSOff bool
	// DNSSEC asks with the DO and AD bits and trusts the AD bit of the
	// answers, as Postfix's smtp_dns_support_level = dnssec: the name
	// servers must be a validating resolver the host trusts (normally
	// one on the host itself).
	DNSSEC bool
	// Ordered keeps MX hosts of equal preference, and a host's addresses,
	// in the order of the DNS answer (smtp_randomize_addresses = no).
	Ordered bool
	// IgnoreMXLookupError is Postfix's ignore_mx_lookup_error: an MX
	// query that gets no answer (SERVFAIL, time-out) falls back to the
	// domain's own addresses, as for a domain without MX records,
	// instead of deferring the mail.
	IgnoreMXLookupError bool
	// IDNA2003 is enable_idna2003_compatibility: UTF-8 domain names are
	// turned into their ASCII form with IDNA2003's transitional mapping
	// (German sharp s becomes "ss") rather than IDNA2008's.
	IDNA2003 bool

	mu  sync.Mutex
	rnd *rand.Rand // random order among equals; nil: math/rand/v2's source
}

// Host is one host to try: an MX host, or the domain itself as implicit MX.
type Host struct {
	Name  string       // lower case, without the trailing dot
	Pref  uint16       // MX preference; 0 for an implicit MX or a LookupHost result
	Addrs []netip.Addr // at least one; order as described in the package doc
	// Implicit marks the domain itself, returned by LookupMX when the
	// domain has no MX records.
	Implicit bool
	// Secure says the lookups that found the host and its addresses
	// were all DNSSEC-validated (Resolver.DNSSEC): the MX records (or
	// their absence) and every address record set. RFC 7672 section
	// 2.2 uses DANE only for such hosts.
	Secure bool
	// Canonical is the name at the end of a CNAME chain from Name to its
	// addresses (lower case, no trailing dot), "" when there was none:
	// with Secure, RFC 7672 section 2.2.2 looks TLSA records up there
	// first.
	Canonical string
}

// mxTarget is one usable MX record.
type mxTarget struct {
	name string // canonical, with the trailing dot
	pref uint16
}

// LookupMX returns the hosts to try for domain, RFC 5321 section 5.1: the
// MX hosts in preference order, random among equal preferences, each with
// its addresses; or, when the domain has no MX records, the domain itself
// as implicit MX with preference 0. MX hosts without a usable address are
// left out; when none remains, the most telling host lookup error is
// returned (a temporary one when there is one, as Postfix does). MX records
// that name an IP address or a malformed name are skipped with a warning.
// An IP literal ("[192.0.2.1]") is looked up as by LookupHost. An
// NXDOMAIN answer to the MX query ends the lookup (Postfix would also ask
// for A records, which cannot exist either), and any MX record naming the
// root makes the domain a null MX, as in Postfix.
//
// Errors are *Error values of class ErrNullMX, ErrNotFound or ErrTemporary.
func (r *Resolver) LookupMX(ctx context.Context, domain string) ([]Host, error) {
	if addr, ok := parseLiteral(domain); ok {
		h, err := r.literalHost(addr)
		if err != nil {
			return nil, err
		}
		return []Host{h}, nil
	}
	name, err := r.canonical(domain, "MX")
	if err != nil {
		return nil, err
	}
	display := strings.TrimSuffix(name, ".")
	ans, lerr := r.lookup(ctx, name, dns.TypeMX)
	if lerr != nil && r.IgnoreMXLookupError && lerr.Temporary() {
		lerr, ans = nil, answer{} // as if the domain had no MX records
	}
	switch {
	case lerr != nil:
		return nil, lerr
	case ans.nxdomain:
		return nil, nameServiceError(ErrNotFound, display, "MX", textHostNotFound, nil)
	case len(ans.rrs) == 0:
		h, herr := r.hostAddrs(ctx, name, 0)
		if herr != nil {
			return nil, herr
		}
		r.orderAddrs(h.Addrs)
		h.Implicit = true
		h.Secure = h.Secure && ans.secure
		return capAddrs([]Host{h}), nil
	}
	targets, terr := r.mxTargets(display, ans.rrs)
	if terr != nil {
		return nil, terr
	}
	return r.resolveTargets(ctx, display, targets, ans.secure)
}

// LookupHost returns the addresses of one host name, without MX lookup
// (for "[host]:port" next hops); brackets around the name are ignored. An
// IP literal ("[192.0.2.1]", "192.0.2.1", "[IPv6:2001:db8::1]",
// "IPv6:2001:db8::1", "2001:db8::1") is returned as is, without DNS, when
// its address family is enabled.
//
// Errors are *Error values of class ErrNotFound or ErrTemporary.
func (r *Resolver) LookupHost(ctx context.Context, name string) (Host, error) {
	if addr, ok := parseLiteral(name); ok {
		return r.literalHost(addr)
	}
	bare := name
	if strings.HasPrefix(bare, "[") && strings.HasSuffix(bare, "]") {
		bare = bare[1 : len(bare)-1]
	}
	fqdn, err := r.canonical(bare, r.firstType())
	if err != nil {
		return Host{}, err
	}
	h, herr := r.hostAddrs(ctx, fqdn, 0)
	if herr != nil {
		return Host{}, herr
	}
	r.orderAddrs(h.Addrs)
	return capAddrs([]Host{h})[0], nil
}

// mxTargets checks the MX records of domain: a null MX makes the lookup
// fail, IP addresses and malformed names are skipped with a warning,
// duplicates keep their best preference. The result is sorted by
// preference, in random order among equals, and cut at MaxHosts.
func (r *Resolver) mxTargets(domain string, rrs []dns.RR) ([]mxTarget, error) {
	best := make(map[string]uint16)
	var order []string
	for _, rr := range rrs {
		mx, ok := rr.(*dns.MX)
		if !ok {
			continue
		}
		target := dns.CanonicalName(mx.Mx)
		if target == "." {
			// RFC 7505 section 3: "0 ." says the domain takes no mail.
			// Like Postfix, any MX record naming the root counts.
			return nil, nullMXError(domain)
		}
		host := strings.TrimSuffix(target, ".")
		if _, err := netip.ParseAddr(host); err == nil {
			r.warnf("numeric domain name in resource data of MX record for %s: %s", domain, host)
			continue
		}
		if !validName(host) {
			r.warnf("malformed domain name in resource data of MX record for %s: %s",
				domain, strconv.Quote(clip(host)))
			continue
		}
		if p, seen := best[target]; !seen || mx.Preference < p {
			if !seen {
				order = append(order, target)
			}
			best[target] = mx.Preference
		}
	}
	if len(order) == 0 {
		return nil, &Error{Class: ErrNotFound, Name: domain, Type: "MX",
			Text: fmt.Sprintf("no MX host for %s has a valid host name", domain)}
	}
	targets := make([]mxTarget, len(order))
	for i, name := range order {
		targets[i] = mxTarget{name: name, pref: best[name]}
	}
	r.shuffle(len(targets), func(i, j int) { targets[i], targets[j] = targets[j], targets[i] })
	slices.SortStableFunc(targets, func(a, b mxTarget) int { return cmp.Compare(a.pref, b.pref) })
	if len(targets) > MaxHosts {
		r.warnf("%s has %d MX hosts: using the first %d", domain, len(targets), MaxHosts)
		targets = targets[:MaxHosts]
	}
	return targets, nil
}

// resolveTargets looks up the addresses of the MX hosts, a few at a time,
// and keeps the hosts that have some, in the order given.
func (r *Resolver) resolveTargets(ctx context.Context, domain string, targets []mxTarget, mxSecure bool) ([]Host, error) {
	hosts := make([]Host, len(targets))
	errs := make([]*Error, len(targets))
	sem := make(chan struct{}, lookupWorkers)
	var wg sync.WaitGroup
	for i, t := range targets {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			hosts[i], errs[i] = r.hostAddrs(ctx, t.name, t.pref)
		}()
	}
	wg.Wait()
	var found []Host
	var failure *Error
	for i := range hosts {
		if errs[i] != nil {
			failure = worse(failure, errs[i])
			continue
		}
		r.orderAddrs(hosts[i].Addrs)
		hosts[i].Secure = hosts[i].Secure && mxSecure
		found = append(found, hosts[i])
	}
	if len(found) == 0 {
		r.warnf("no MX host for %s has a valid address record", domain)
		if r.DeferNoMXAddress && failure.Class == ErrNotFound {
			soft := *failure
			soft.Soft = true
			return nil, &soft
		}
		return nil, failure
	}
	return capAddrs(found), nil
}

// hostAddrs looks up the addresses of one host name (canonical, with the
// trailing dot) in the enabled families. It succeeds when either family
// has addresses; otherwise the error of the failed lookups is returned, a
// temporary one rather than a permanent one.
func (r *Resolver) hostAddrs(ctx context.Context, name string, pref uint16) (Host, *Error) {
	if r.Native == nil {
		return r.dnsHostAddrs(ctx, name, pref)
	}
	if r.NativeFirst || r.DNSOff {
		if h, ok := r.nativeHostAddrs(ctx, name, pref); ok {
			return h, nil
		}
		if r.DNSOff {
			display := strings.TrimSuffix(name, ".")
			return Host{}, nameServiceError(ErrNotFound, display, "A", textHostNotFound, nil)
		}
		return r.dnsHostAddrs(ctx, name, pref)
	}
	h, err := r.dnsHostAddrs(ctx, name, pref)
	if err == nil {
		return h, nil
	}
	if nh, ok := r.nativeHostAddrs(ctx, name, pref); ok {
		return nh, nil
	}
	return h, err
}

// nativeHostAddrs asks Native for name's addresses, of the enabled
// families; ok is false when it has none.
func (r *Resolver) nativeHostAddrs(ctx context.Context, name string, pref uint16) (Host, bool) {
	display := strings.TrimSuffix(name, ".")
	found, err := r.Native(ctx, display)
	if err != nil {
		return Host{}, false
	}
	var addrs []netip.Addr
	for _, a := range found {
		a = a.Unmap()
		want := (a.Is4() && (r.IPv4 || !r.IPv6)) || (a.Is6() && (r.IPv6 || !r.IPv4))
		if want && !slices.Contains(addrs, a) && len(addrs) < MaxAddrs {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		return Host{}, false
	}
	return Host{Name: display, Pref: pref, Addrs: addrs}, true
}

// dnsHostAddrs looks name's A and AAAA records up in DNS.
func (r *Resolver) dnsHostAddrs(ctx context.Context, name string, pref uint16) (Host, *Error) {
	display := strings.TrimSuffix(name, ".")
	var addrs []netip.Addr
	var failure *Error
	secure := r.DNSSEC
	canonical := ""
	for _, qtype := range r.families() {
		tname := dns.TypeToString[qtype]
		ans, err := r.lookup(ctx, name, qtype)
		if err != nil {
			failure = worse(failure, err)
			secure = false
			continue
		}
		secure = secure && ans.secure
		if c := strings.ToLower(strings.TrimSuffix(ans.canonical, ".")); c != "" && !strings.EqualFold(c, display) && canonical == "" {
			canonical = c
		}
		if ans.nxdomain {
			// The name does not exist: no use asking for the other type.
			failure = worse(failure, nameServiceError(ErrNotFound, display, tname, textHostNotFound, nil))
			break
		}
		if len(ans.rrs) == 0 {
			failure = worse(failure, nameServiceError(ErrNotFound, display, tname, textNoData, nil))
			continue
		}
		addrs = appendAddrs(addrs, ans.rrs)
	}
	if len(addrs) == 0 {
		return Host{}, failure
	}
	return Host{Name: display, Pref: pref, Addrs: addrs, Secure: secure, Canonical: canonical}, nil
}

// appendAddrs adds the addresses of A and AAAA records, without duplicates
// and at most MaxAddrs in all.
func appendAddrs(addrs []netip.Addr, rrs []dns.RR) []netip.Addr {
	for _, rr := range rrs {
		var a netip.Addr
		var ok bool
		switch v := rr.(type) {
		case *dns.A:
			a, ok = netip.AddrFromSlice(v.A.To4())
		case *dns.AAAA:
			a, ok = netip.AddrFromSlice(v.AAAA.To16())
		}
		if ok && !slices.Contains(addrs, a) && len(addrs) < MaxAddrs {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// capAddrs cuts the address lists so that there are at most MaxAddrs in
// all; hosts left without any are dropped.
func capAddrs(hosts []Host) []Host {
	budget := MaxAddrs
	out := hosts[:0]
	for _, h := range hosts {
		if budget == 0 {
			break
		}
		if len(h.Addrs) > budget {
			h.Addrs = h.Addrs[:budget]
		}
		budget -= len(h.Addrs)
		out = append(out, h)
	}
	return out
}

// orderAddrs puts a host's addresses in random order, then the preferred
// family first (a stable sort keeps the random order within a family).
func (r *Resolver) orderAddrs(addrs []netip.Addr) {
	r.shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	if r.Preference == PreferAny {
		return
	}
	rank := func(a netip.Addr) int {
		if a.Is6() == (r.Preference == PreferIPv6) {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(addrs, func(a, b netip.Addr) int { return cmp.Compare(rank(a), rank(b)) })
}

// shuffle permutes n elements with the resolver's random source.
func (r *Resolver) shuffle(n int, swap func(i, j int)) {
	if n < 2 || r.Ordered {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rnd != nil {
		r.rnd.Shuffle(n, swap)
		return
	}
	rand.Shuffle(n, swap)
}

// families returns the address record types to ask for.
func (r *Resolver) families() []uint16 {
	switch {
	case r.IPv4 && !r.IPv6:
		return []uint16{dns.TypeA}
	case r.IPv6 && !r.IPv4:
		return []uint16{dns.TypeAAAA}
	case r.Preference == PreferIPv6:
		return []uint16{dns.TypeAAAA, dns.TypeA}
	default:
		return []uint16{dns.TypeA, dns.TypeAAAA}
	}
}

// firstType names the first address type asked for, for error texts.
func (r *Resolver) firstType() string { return dns.TypeToString[r.families()[0]] }

// wants reports whether addr's family is enabled.
func (r *Resolver) wants(addr netip.Addr) bool {
	if !r.IPv4 && !r.IPv6 {
		return true
	}
	if addr.Is4() {
		return r.IPv4
	}
	return r.IPv6
}

func (r *Resolver) warnf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

// literalHost returns the host for an IP literal.
func (r *Resolver) literalHost(addr netip.Addr) (Host, error) {
	if !r.wants(addr) {
		family, tname := "IPv6", "AAAA"
		if addr.Is4() {
			family, tname = "IPv4", "A"
		}
		return Host{}, &Error{Class: ErrNotFound, Name: addr.String(), Type: tname,
			Text: fmt.Sprintf("unable to use address %s: %s is not enabled in inet_protocols", addr, family)}
	}
	return Host{Name: addr.String(), Addrs: []netip.Addr{addr}}, nil
}

// parseLiteral recognises an IP address literal: "192.0.2.1",
// "[192.0.2.1]", "2001:db8::1", "IPv6:2001:db8::1" and "[IPv6:2001:db8::1]"
// (RFC 5321 section 4.1.3). Zones are not accepted.
func parseLiteral(s string) (netip.Addr, bool) {
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	v6 := false
	if len(s) > 5 && strings.EqualFold(s[:5], "IPv6:") {
		s, v6 = s[5:], true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil || addr.Zone() != "" || (v6 && !addr.Is6()) {
		return netip.Addr{}, false
	}
	return addr, true
}

// canonical checks a domain name and returns it in lower case with one
// trailing dot; a UTF-8 name (an address of an SMTPUTF8 message) is
// turned into its ASCII form, xn-- labels, as Postfix does. A malformed
// name is an ErrNotFound error, as Postfix's DNS_INVAL is a permanent
// failure.
func (r *Resolver) canonical(domain, rrtype string) (string, *Error) {
	s := strings.ToLower(strings.TrimSuffix(domain, "."))
	if a, ok := idn.ToASCII(s, r.IDNA2003); ok {
		s = a
	}
	if !validName(s) {
		q := strconv.Quote(clip(domain))
		return "", &Error{Class: ErrNotFound, Name: q, Type: rrtype,
			Text: fmt.Sprintf("Host or domain name not found. "+
				"Name service error for name=%s type=%s: Malformed domain name", q, rrtype)}
	}
	return s + ".", nil
}

// validName reports whether s (without the trailing dot) is a host name
// tern will look up: labels of 1 to 63 letters, digits, hyphens and
// underscores, 253 octets at most.
func validName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
