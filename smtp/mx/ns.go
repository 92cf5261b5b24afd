package mx

import (
	"context"
	"errors"
	"strings"

	"github.com/miekg/dns"
)

// maxNSHosts bounds the name servers LookupNS returns.
const maxNSHosts = 20

// LookupNS returns the name servers of domain, each with its addresses,
// as Postfix's check_*_ns_access finds them: when domain has no NS
// records, those of its closest parent that has some. A name server
// without an address is returned without addresses. Errors are *Error
// values of class ErrNotFound (no name servers up to the root) or
// ErrTemporary.
func (r *Resolver) LookupNS(ctx context.Context, domain string) ([]Host, error) {
	name, cerr := r.canonical(domain, "NS")
	if cerr != nil {
		return nil, cerr
	}
	for zone := name; zone != "." && zone != ""; zone = parentZone(zone) {
		ans, err := r.lookup(ctx, zone, dns.TypeNS)
		if err != nil {
			return nil, err
		}
		var hosts []Host
		for _, rr := range ans.rrs {
			ns, ok := rr.(*dns.NS)
			if !ok || len(hosts) >= maxNSHosts {
				continue
			}
			target := dns.CanonicalName(ns.Ns)
			h, herr := r.hostAddrs(ctx, target, 0)
			if herr != nil && errors.Is(herr, ErrTemporary) {
				return nil, herr
			}
			h.Name = strings.TrimSuffix(target, ".")
			hosts = append(hosts, h)
		}
		if len(hosts) > 0 {
			return hosts, nil
		}
	}
	return nil, nameServiceError(ErrNotFound, strings.TrimSuffix(name, "."), "NS", textHostNotFound, nil)
}

// parentZone drops the first label of a canonical name: "a.b.c." becomes
// "b.c.".
func parentZone(name string) string {
	_, rest, ok := strings.Cut(name, ".")
	if !ok || rest == "" {
		return "."
	}
	return rest
}
