package mx

import (
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// maxListText bounds the TXT text LookupList returns, as Postfix bounds
// the reason it puts in a DNSBL reply.
const maxListText = 500

// LookupList looks name up in a DNS list (a DNSBL or DNSWL zone, such as
// "2.0.0.127.zen.example"): the IPv4 addresses of its A records, none when
// the name does not exist or has no A record, and, when it is listed, the
// text of its TXT records joined with " / " (the reason a list gives).
// A lookup that could not be answered is an *Error of class ErrTemporary;
// a TXT lookup that fails only leaves the text empty, and a malformed name
// is not listed.
func (r *Resolver) LookupList(ctx context.Context, name string) (addrs []netip.Addr, text string, err error) {
	fqdn, cerr := r.canonical(name, "A")
	if cerr != nil {
		return nil, "", nil // a name that can't exist is not listed
	}
	ans, lerr := r.lookup(ctx, fqdn, dns.TypeA)
	if lerr != nil {
		return nil, "", lerr
	}
	for _, rr := range ans.rrs {
		if a, ok := rr.(*dns.A); ok {
			if addr, ok := netip.AddrFromSlice(a.A.To4()); ok {
				addrs = append(addrs, addr)
			}
		}
	}
	if len(addrs) == 0 {
		return nil, "", nil
	}
	if txt, terr := r.lookup(ctx, fqdn, dns.TypeTXT); terr == nil {
		text = joinTXT(txt.rrs)
	}
	return addrs, text, nil
}

// joinTXT joins the strings of TXT records, records apart by " / ", cut
// at maxListText bytes.
func joinTXT(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(" / ")
		}
		b.WriteString(strings.Join(t.Txt, ""))
		if b.Len() >= maxListText {
			break
		}
	}
	s := b.String()
	if len(s) > maxListText {
		s = s[:maxListText]
	}
	return s
}
