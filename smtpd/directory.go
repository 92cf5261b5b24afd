package smtpd

import (
	"context"
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/domainlist"
	"github.com/tern-mta/tern/pkg/maps"
)

// directory knows main.cf's address classes and their recipient tables,
// for Postfix's reject_unlisted_recipient and reject_unauth_destination:
// mydestination with local_recipient_maps, virtual alias domains with
// virtual_alias_maps, virtual mailbox domains with virtual_mailbox_maps,
// relay_domains with relay_recipient_maps, and relocated_maps.
type directory struct {
	local, relay, virtualAlias, virtualMailbox *domainlist.List

	locals *localRecipients
	// aliases are the tables that make any address known: canonical_maps,
	// recipient_canonical_maps and virtual_alias_maps, as in Postfix's
	// check_rcpt_maps.
	aliases        []maps.Map
	mailboxes      []maps.Map
	relayRcpts     []maps.Map
	relocatedMaps  []maps.Map
	senderLogins   []maps.Map // smtpd_sender_login_maps
	anyRelayRcpt   bool       // relay_recipient_maps is empty
	delimiter      string
	closeWhenEnded []maps.Map
}

func newDirectory(cfg *config.Config, configDir string) (d *directory, err error) {
	opt := maps.Options{ConfigDir: configDir}
	d = &directory{delimiter: cfg.Get("recipient_delimiter")}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	lists := []struct {
		param string
		dst   **domainlist.List
	}{
		{"mydestination", &d.local},
		{"relay_domains", &d.relay},
		{"virtual_alias_domains", &d.virtualAlias},
		{"virtual_mailbox_domains", &d.virtualMailbox},
	}
	for _, l := range lists {
		if *l.dst, err = domainlist.FromConfig(cfg.Get, l.param, opt); err != nil {
			return d, err
		}
	}
	for _, p := range []string{"canonical_maps", "recipient_canonical_maps", "virtual_alias_maps"} {
		ms, err := d.open(cfg, p, opt)
		if err != nil {
			return d, err
		}
		d.aliases = append(d.aliases, ms...)
	}
	if d.mailboxes, err = d.open(cfg, "virtual_mailbox_maps", opt); err != nil {
		return d, err
	}
	if d.relayRcpts, err = d.open(cfg, "relay_recipient_maps", opt); err != nil {
		return d, err
	}
	d.anyRelayRcpt = len(d.relayRcpts) == 0
	if d.relocatedMaps, err = d.open(cfg, "relocated_maps", opt); err != nil {
		return d, err
	}
	if d.senderLogins, err = d.open(cfg, "smtpd_sender_login_maps", opt); err != nil {
		return d, err
	}
	d.locals, err = newLocalRecipients(cfg, configDir)
	return d, err
}

// open opens the table list of param.
func (d *directory) open(cfg *config.Config, param string, opt maps.Options) ([]maps.Map, error) {
	specs, err := maps.SplitSpecs(cfg.Get(param))
	if err != nil || len(specs) == 0 {
		return nil, err
	}
	ms, _, err := maps.OpenList(specs, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	d.closeWhenEnded = append(d.closeWhenEnded, ms...)
	return ms, nil
}

func (d *directory) close() {
	for _, l := range []*domainlist.List{d.local, d.relay, d.virtualAlias, d.virtualMailbox} {
		l.Close()
	}
	maps.CloseAll(d.closeWhenEnded)
	if d.locals != nil {
		maps.CloseAll(d.locals.tables)
	}
}

// known reports whether a resolved recipient address is valid for its
// address class. Addresses outside the classes (remote domains) are
// known: their validity is the next hop's business.
func (d *directory) known(ctx context.Context, addr string) (bool, error) {
	local, domain := splitLower(addr)
	isLocal, err := d.local.Match(domain)
	if err != nil {
		return false, err
	}
	if found, err := d.lookup(d.aliases, local, domain, isLocal); err != nil || found {
		return found, err
	}
	if isLocal {
		return d.locals.known(ctx, addr)
	}
	if ok, err := d.virtualAlias.Match(domain); err != nil || ok {
		return false, err
	}
	if ok, err := d.virtualMailbox.Match(domain); err != nil {
		return false, err
	} else if ok {
		return d.lookup(d.mailboxes, local, domain, false)
	}
	if ok, err := d.relay.Match(domain); err != nil {
		return false, err
	} else if ok && !d.anyRelayRcpt {
		return d.lookup(d.relayRcpts, local, domain, false)
	}
	return true, nil
}

// relocated returns the new location relocated_maps gives an address.
func (d *directory) relocated(_ context.Context, addr string) (string, bool, error) {
	v, found, err := d.find(d.relocatedMaps, addr)
	return strings.TrimSpace(v), found, err
}

// senderOwners returns the SASL logins that smtpd_sender_login_maps gives
// a sender address: a list separated by commas or white space.
func (d *directory) senderOwners(_ context.Context, addr string) ([]string, bool, error) {
	v, found, err := d.find(d.senderLogins, addr)
	if !found || err != nil {
		return nil, false, err
	}
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }), true, nil
}

// find returns the value tables give an address, searched with
// virtual(5)'s key order (the bare local part only for local domains).
func (d *directory) find(tables []maps.Map, addr string) (string, bool, error) {
	if len(tables) == 0 {
		return "", false, nil
	}
	local, domain := splitLower(addr)
	isLocal, err := d.local.Match(domain)
	if err != nil {
		return "", false, err
	}
	for _, k := range maps.AddressKeys(local, domain, d.delimiter, isLocal) {
		v, found, err := maps.LookupFirst(tables, k)
		if err != nil || found {
			return v, found, err
		}
	}
	return "", false, nil
}

// lookup searches tables with virtual(5)'s key order.
func (d *directory) lookup(tables []maps.Map, local, domain string, isLocal bool) (bool, error) {
	if len(tables) == 0 {
		return false, nil
	}
	for _, k := range maps.AddressKeys(local, domain, d.delimiter, isLocal) {
		if _, found, err := maps.LookupFirst(tables, k); err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// virtualDomain reports whether a domain is a virtual alias or virtual
// mailbox domain.
func (d *directory) virtualDomain(domain string) (bool, error) {
	if ok, err := d.virtualAlias.Match(domain); err != nil || ok {
		return ok, err
	}
	return d.virtualMailbox.Match(domain)
}

// splitLower returns the local part and the lower-cased domain.
func splitLower(addr string) (string, string) {
	local, domain := splitAddress(addr)
	return local, strings.ToLower(domain)
}
