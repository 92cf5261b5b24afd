package qmgr

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
)

// route is where one recipient goes.
type route struct {
	transport string // master.cf service: local, smtp, lmtp, error, discard
	nexthop   string
}

// router resolves recipients to transports the way Postfix's
// trivial-rewrite(8) does for the address classes tern supports so far:
// transport_maps first, then mydestination (local_transport), then
// default_transport with relayhost.
type router struct {
	myDestination map[string]bool
	localT        route
	defaultT      route
	transportMaps []maps.Map
	warnings      []string
}

func newRouter(cfg *config.Config, opt maps.Options) (*router, error) {
	r := &router{myDestination: map[string]bool{}}
	for _, d := range cfg.List("mydestination") {
		r.myDestination[strings.ToLower(d)] = true
	}
	r.localT = parseRoute(cfg.Get("local_transport"), cfg.Get("myhostname"))
	r.defaultT = parseRoute(cfg.Get("default_transport"), "")
	if relay := cfg.Get("relayhost"); relay != "" && r.defaultT.nexthop == "" {
		r.defaultT.nexthop = relay
	}
	specs, err := maps.SplitSpecs(cfg.Get("transport_maps"))
	if err != nil {
		return nil, fmt.Errorf("transport_maps: %w", err)
	}
	if len(specs) > 0 {
		ms, warns, err := maps.OpenList(specs, opt)
		if err != nil {
			return nil, fmt.Errorf("transport_maps: %w", err)
		}
		r.transportMaps = ms
		r.warnings = append(r.warnings, warns...)
	}
	return r, nil
}

func (r *router) close() {
	for _, m := range r.transportMaps {
		m.Close()
	}
}

// parseRoute splits "transport:nexthop".
func parseRoute(v, defaultNexthop string) route {
	t, hop, _ := strings.Cut(strings.TrimSpace(v), ":")
	if hop == "" {
		hop = defaultNexthop
	}
	return route{transport: t, nexthop: hop}
}

// resolve returns the route of addr. A lookup table error is returned so the
// recipient is deferred, never misrouted.
func (r *router) resolve(addr string) (route, error) {
	local, domain := splitAddr(addr)
	isLocal := domain == "" || r.myDestination[domain]
	base := r.defaultT
	if isLocal {
		base = r.localT
	}
	if rt, found, err := r.lookupTransport(local, domain); err != nil {
		return route{}, err
	} else if found {
		if rt.transport == "" {
			rt.transport = base.transport
		}
		if rt.nexthop == "" {
			rt.nexthop = base.nexthop
			if !isLocal && rt.nexthop == "" {
				rt.nexthop = domain
			}
		}
		return rt, nil
	}
	if !isLocal && base.nexthop == "" {
		base.nexthop = domain
	}
	return base, nil
}

// lookupTransport follows transport(5)'s order: user@domain, domain, then
// each parent as ".parent", then "*".
func (r *router) lookupTransport(local, domain string) (route, bool, error) {
	if len(r.transportMaps) == 0 {
		return route{}, false, nil
	}
	keys := []string{local + "@" + domain, domain}
	for d := domain; ; {
		_, rest, ok := strings.Cut(d, ".")
		if !ok || rest == "" {
			break
		}
		keys = append(keys, "."+rest)
		d = rest
	}
	keys = append(keys, "*")
	for _, k := range keys {
		v, found, err := maps.LookupFirst(r.transportMaps, k)
		if err != nil {
			return route{}, false, err
		}
		if found {
			return parseRoute(v, ""), true, nil
		}
	}
	return route{}, false, nil
}

// splitAddr returns the local part and the lower-cased domain of addr.
func splitAddr(addr string) (string, string) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, ""
	}
	return addr[:i], strings.ToLower(addr[i+1:])
}
