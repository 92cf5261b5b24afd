package qmgr

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/domainlist"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
)

// route is where one recipient goes.
type route struct {
	transport string // master.cf service: local, smtp, lmtp, virtual, error, discard
	nexthop   string
}

// Replies of Postfix's trivial-rewrite(8) for addresses it sends to the
// error transport.
const (
	unknownVirtualAlias = "5.1.1 User unknown in virtual alias table"
	relocatedFormat     = "5.1.6 User has moved to %s"
	badAddressSyntax    = "5.1.3 bad address syntax"
)

// router resolves recipients to transports the way Postfix's
// trivial-rewrite(8) does: relocated_maps first, then transport_maps, then
// the address class: mydestination (local_transport), virtual alias
// domains (unknown user: their aliases were expanded in cleanup), virtual
// mailbox domains (virtual_transport), relay_domains (relay_transport),
// and everything else (default_transport with relayhost).
type router struct {
	myDestination  *domainlist.List
	virtualAlias   *domainlist.List
	virtualMailbox *domainlist.List
	relayDomains   *domainlist.List
	localT         route
	virtualT       route
	relayT         route
	defaultT       route
	transportMaps  []maps.Map
	relocatedMaps  []maps.Map
	delimiter      string // recipient_delimiter
	warnings       []string
	// relayhost and senderRelay (sender_dependent_relayhost_maps, with
	// nullSenderKey for the null sender) give the next hop of the relay
	// and default classes when their transports name none.
	relayhost     string
	senderRelay   []maps.Map
	nullSenderKey string
	// senderDefault is sender_dependent_default_transport_maps, with
	// nullDefaultKey for the null sender: the default class's transport
	// for some senders.
	senderDefault  []maps.Map
	nullDefaultKey string
	// allowMinUser is allow_min_user: unless set, an address beginning
	// with "-" goes to the error transport, whatever its route.
	allowMinUser bool
	// filterNexthop is default_filter_nexthop: the next hop of a content
	// filter that names none ("" means the recipient's domain).
	filterNexthop string
}

func newRouter(cfg *config.Config, opt maps.Options) (*router, error) {
	r := &router{
		localT:        parseRoute(cfg.Get("local_transport"), cfg.Get("myhostname")),
		virtualT:      parseRoute(cfg.Get("virtual_transport"), ""),
		relayT:        parseRoute(cfg.Get("relay_transport"), ""),
		defaultT:      parseRoute(cfg.Get("default_transport"), ""),
		delimiter:     cfg.Get("recipient_delimiter"),
		allowMinUser:  cfg.Bool("allow_min_user"),
		relayhost:     strings.TrimSpace(cfg.Get("relayhost")),
		filterNexthop: strings.TrimSpace(cfg.Get("default_filter_nexthop")),
		// Postfix's empty_address_relayhost_maps_lookup_key.
		nullSenderKey:  cfg.Get("empty_address_relayhost_maps_lookup_key"),
		nullDefaultKey: cfg.Get("empty_address_default_transport_maps_lookup_key"),
	}
	if err := r.open(cfg, opt); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// open reads the domain lists and tables.
func (r *router) open(cfg *config.Config, opt maps.Options) (err error) {
	lists := []struct {
		param string
		dst   **domainlist.List
	}{
		{"mydestination", &r.myDestination},
		{"virtual_alias_domains", &r.virtualAlias},
		{"virtual_mailbox_domains", &r.virtualMailbox},
		{"relay_domains", &r.relayDomains},
	}
	for _, l := range lists {
		*l.dst, err = domainlist.FromConfig(cfg.Get, l.param, opt)
		if err != nil {
			return err
		}
	}
	if r.transportMaps, err = r.openTables(cfg, "transport_maps", opt); err != nil {
		return err
	}
	if r.senderRelay, err = r.openTables(cfg, "sender_dependent_relayhost_maps", opt); err != nil {
		return err
	}
	if r.senderDefault, err = r.openTables(cfg, "sender_dependent_default_transport_maps", opt); err != nil {
		return err
	}
	r.relocatedMaps, err = r.openTables(cfg, "relocated_maps", opt)
	return err
}

func (r *router) openTables(cfg *config.Config, param string, opt maps.Options) ([]maps.Map, error) {
	specs, err := maps.SplitSpecs(cfg.Get(param))
	if err != nil || len(specs) == 0 {
		return nil, err
	}
	ms, warns, err := maps.OpenList(specs, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	r.warnings = append(r.warnings, warns...)
	return ms, nil
}

func (r *router) close() {
	for _, l := range []*domainlist.List{r.myDestination, r.virtualAlias, r.virtualMailbox, r.relayDomains} {
		l.Close()
	}
	maps.CloseAll(r.transportMaps)
	maps.CloseAll(r.relocatedMaps)
	maps.CloseAll(r.senderRelay)
	maps.CloseAll(r.senderDefault)
}

// parseRoute splits "transport:nexthop".
func parseRoute(v, defaultNexthop string) route {
	t, hop, _ := strings.Cut(strings.TrimSpace(v), ":")
	if hop == "" {
		hop = defaultNexthop
	}
	return route{transport: t, nexthop: hop}
}

// routeFor is the route of a recipient of env: its content filter when
// the message has one (the next hop defaulting to default_filter_nexthop,
// else the recipient's domain, as in Postfix), else its own.
func (r *router) routeFor(env *envelope.Envelope, addr string) (route, error) {
	if !r.allowMinUser && envelope.LooksLikeOption(addr) {
		// As Postfix's queue manager: a delivery agent or a pipe(8)
		// command could take the address for an option.
		return route{transport: "error", nexthop: badAddressSyntax}, nil
	}
	if env.Filter == "" {
		return r.resolve(addr, env.Sender)
	}
	hop := r.filterNexthop
	if hop == "" {
		_, hop = splitAddr(addr)
	}
	return parseRoute(env.Filter, hop), nil
}

// resolve returns the route of addr in mail from sender. A lookup table
// error is returned so the recipient is deferred, never misrouted.
func (r *router) resolve(addr, sender string) (route, error) {
	local, domain := splitAddr(addr)
	isLocal := domain == ""
	if !isLocal {
		ok, err := r.myDestination.Match(domain)
		if err != nil {
			return route{}, err
		}
		isLocal = ok
	}
	if moved, found, err := r.relocated(local, domain, isLocal); err != nil || found {
		return route{transport: "error", nexthop: fmt.Sprintf(relocatedFormat, moved)}, err
	}
	base, err := r.classRoute(domain, isLocal, sender)
	if err != nil {
		return route{}, err
	}
	rt, found, err := r.lookupTransport(local, domain)
	if err != nil {
		return route{}, err
	}
	if !found {
		return base, nil
	}
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

// classRoute is the route of the domain's address class. The next hop of
// the relay and default classes is, in Postfix's order, that of their
// transport, of sender_dependent_relayhost_maps, relayhost, or the domain.
func (r *router) classRoute(domain string, isLocal bool, sender string) (route, error) {
	if isLocal {
		return r.localT, nil
	}
	if ok, err := r.virtualAlias.Match(domain); err != nil || ok {
		return route{transport: "error", nexthop: unknownVirtualAlias}, err
	}
	if ok, err := r.virtualMailbox.Match(domain); err != nil {
		return route{}, err
	} else if ok {
		base := r.virtualT
		if base.nexthop == "" {
			base.nexthop = domain
		}
		return base, nil
	}
	base := r.defaultT
	if ok, err := r.relayDomains.Match(domain); err != nil {
		return route{}, err
	} else if ok {
		base = r.relayT
	} else if t, err := r.senderLookup(r.senderDefault, r.nullDefaultKey, "sender_dependent_default_transport_maps", sender); err != nil {
		return route{}, err
	} else if t != "" {
		base = parseRoute(t, "")
	}
	if base.nexthop != "" {
		return base, nil
	}
	hop, err := r.senderLookup(r.senderRelay, r.nullSenderKey, "sender_dependent_relayhost_maps", sender)
	if err != nil {
		return route{}, err
	}
	switch {
	case hop != "":
		base.nexthop = hop
	case r.relayhost != "":
		base.nexthop = r.relayhost
	default:
		base.nexthop = domain
	}
	return base, nil
}

// senderLookup looks sender up in tables (sender_dependent_relayhost_maps
// or sender_dependent_default_transport_maps, named param), as Postfix
// does: the address, without its extension, then @domain; the null
// sender as nullKey. "" when none applies, DUNNO included.
func (r *router) senderLookup(tables []maps.Map, nullKey, param, sender string) (string, error) {
	if len(tables) == 0 {
		return "", nil
	}
	keys := []string{nullKey}
	if sender != "" {
		local, domain := splitAddr(sender)
		keys = maps.AddressKeys(local, domain, r.delimiter, false)
		if domain == "" {
			keys = []string{sender}
		}
	}
	for _, k := range keys {
		v, found, err := maps.LookupFirst(tables, k)
		if err != nil {
			return "", fmt.Errorf("%s: %w", param, err)
		}
		if found {
			if v = strings.TrimSpace(v); strings.EqualFold(v, "DUNNO") {
				return "", nil
			}
			return v, nil
		}
	}
	return "", nil
}

// relocated looks the address up in relocated_maps: user+ext@domain,
// user@domain, user (local domains only), then @domain.
func (r *router) relocated(local, domain string, isLocal bool) (string, bool, error) {
	if len(r.relocatedMaps) == 0 {
		return "", false, nil
	}
	for _, k := range maps.AddressKeys(local, domain, r.delimiter, isLocal) {
		v, found, err := maps.LookupFirst(r.relocatedMaps, k)
		if err != nil || found {
			return strings.TrimSpace(v), found, err
		}
	}
	return "", false, nil
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
