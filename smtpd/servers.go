package smtpd

import (
	"context"
	"errors"
	"fmt"

	"github.com/tern-mta/tern/smtp/mx"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// serverHosts is restrict.Deps.ServerHosts on an mx.Resolver: the MX
// hosts of a domain (the domain itself when it has no MX), its name
// servers, or its addresses. A domain that does not exist, a null MX, or
// one without such hosts gives none.
func serverHosts(r *mx.Resolver) func(ctx context.Context, domain, rrtype string) ([]restrict.ServerHost, error) {
	return func(ctx context.Context, domain, rrtype string) ([]restrict.ServerHost, error) {
		var hosts []mx.Host
		var err error
		switch rrtype {
		case "MX":
			hosts, err = r.LookupMX(ctx, domain)
		case "NS":
			hosts, err = r.LookupNS(ctx, domain)
		case "A":
			var h mx.Host
			if h, err = r.LookupHost(ctx, domain); err == nil {
				hosts = []mx.Host{h}
			}
		default:
			return nil, fmt.Errorf("unknown record type %s", rrtype)
		}
		switch {
		case errors.Is(err, mx.ErrTemporary):
			return nil, err
		case err != nil:
			return nil, nil // not found, or a null MX: nothing to check
		}
		out := make([]restrict.ServerHost, 0, len(hosts))
		for _, h := range hosts {
			sh := restrict.ServerHost{Name: h.Name, Pref: int(h.Pref), Implicit: h.Implicit}
			for _, a := range h.Addrs {
				sh.Addrs = append(sh.Addrs, a.Unmap().String())
			}
			out = append(out, sh)
		}
		return out, nil
	}
}
