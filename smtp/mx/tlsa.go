package mx

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"
	"github.com/tern-mta/tern/pkg/dane"
)

// TLSA is the outcome of a TLSA lookup that the name service answered.
type TLSA struct {
	Records []dane.Record // all records found, usable or not
	Secure  bool          // the answer (records or their absence) was DNSSEC-validated
}

// LookupTLSA asks for the TLSA records of a TLS service (RFC 6698 section
// 3): "_port._tcp.host". No such name and no records both give an empty
// result; a failed lookup (such as the SERVFAIL a validating resolver
// gives for bogus data) is an *Error of class ErrTemporary, with which
// RFC 7672 section 2.2 has a client skip the host. Records whose data
// does not parse are left out.
func (r *Resolver) LookupTLSA(ctx context.Context, host string, port int) (TLSA, error) {
	name, err := r.canonical(fmt.Sprintf("_%d._tcp.%s", port, strings.TrimSuffix(host, ".")), "TLSA")
	if err != nil {
		return TLSA{}, err
	}
	ans, lerr := r.lookup(ctx, name, dns.TypeTLSA)
	if lerr != nil {
		return TLSA{}, lerr
	}
	out := TLSA{Secure: ans.secure}
	for _, rr := range ans.rrs {
		t, ok := rr.(*dns.TLSA)
		if !ok {
			continue
		}
		rec, perr := dane.ParseRecord(t.Usage, t.Selector, t.MatchingType, t.Certificate)
		if perr != nil {
			r.warnf("%s: %v", strings.TrimSuffix(name, "."), perr)
			continue
		}
		out.Records = append(out.Records, rec)
	}
	return out, nil
}
