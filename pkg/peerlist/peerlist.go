// Package peerlist matches a network peer, by host name or address,
// against a Postfix list such as debug_peer_list: domain names (their
// subdomains too with a leading dot, or when
// parent_domain_matches_subdomains names the parameter), addresses and
// address/length networks, "!pattern" exclusions, "/file/name" files of
// more patterns, and "type:table" lookups searched with the name, its
// parent domains, then the address. The first pattern that matches
// decides.
package peerlist

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/maps/tablefile"
	"github.com/tern-mta/tern/pkg/netlist"
)

// entry is one pattern: a network, a domain name or a table.
type entry struct {
	negate bool
	prefix netip.Prefix
	name   string // lower case; ".example.com" matches subdomains only
	table  maps.Map
}

// List is a parsed peer list; a nil *List matches nothing.
type List struct {
	param   string
	parent  bool
	entries []entry
}

// New parses the elements of param; parent says that a domain name also
// matches its subdomains. Tables are opened with opt; Close releases them.
func New(param string, elems []string, parent bool, opt maps.Options) (*List, error) {
	l := &List{param: param, parent: parent}
	if err := l.add(elems, false, opt, 0); err != nil {
		l.Close()
		return nil, err
	}
	if len(l.entries) == 0 {
		return nil, nil
	}
	return l, nil
}

func (l *List) add(elems []string, negate bool, opt maps.Options, depth int) error {
	for _, elem := range elems {
		e, neg := tablefile.ListPattern(elem)
		if e == "" {
			continue
		}
		neg = neg != negate
		if p, err := netlist.ParsePrefix(e); err == nil {
			l.entries = append(l.entries, entry{negate: neg, prefix: p})
			continue
		}
		switch {
		case strings.HasPrefix(e, "/"):
			if depth >= tablefile.MaxListDepth {
				return fmt.Errorf("%s: %s: files nested more than %d deep", l.param, e, tablefile.MaxListDepth)
			}
			words, err := tablefile.ListFile(e)
			if err != nil {
				return fmt.Errorf("%s: %w", l.param, err)
			}
			if err := l.add(words, neg, opt, depth+1); err != nil {
				return err
			}
		case strings.Contains(e, ":"):
			m, err := maps.Open(e, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", l.param, err)
			}
			l.entries = append(l.entries, entry{negate: neg, table: m})
		default:
			l.entries = append(l.entries, entry{negate: neg, name: strings.ToLower(strings.TrimSuffix(e, "."))})
		}
	}
	return nil
}

// Match reports whether the peer with host name name ("" or "unknown"
// when it has none) and address addr is in the list. A table that cannot
// be searched is an error.
func (l *List) Match(name string, addr netip.Addr) (bool, error) {
	if l == nil {
		return false, nil
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "unknown" {
		name = ""
	}
	for _, e := range l.entries {
		ok, err := l.matchEntry(e, name, addr)
		if err != nil {
			return false, err
		}
		if ok {
			return !e.negate, nil
		}
	}
	return false, nil
}

func (l *List) matchEntry(e entry, name string, addr netip.Addr) (bool, error) {
	switch {
	case e.table != nil:
		keys := l.nameKeys(name)
		if addr.IsValid() {
			keys = append(keys, addr.Unmap().String())
		}
		for _, k := range keys {
			if _, found, err := e.table.Lookup(k); err != nil || found {
				return found, err
			}
		}
		return false, nil
	case e.name != "":
		if name == "" {
			return false, nil
		}
		if sub, ok := strings.CutPrefix(e.name, "."); ok {
			return strings.HasSuffix(name, "."+sub), nil
		}
		return name == e.name || l.parent && strings.HasSuffix(name, "."+e.name), nil
	}
	return addr.IsValid() && e.prefix.Contains(addr.Unmap()), nil
}

// nameKeys are the table keys of name: itself, then with parent
// matching each parent domain.
func (l *List) nameKeys(name string) []string {
	if name == "" {
		return nil
	}
	keys := []string{name}
	for rest := name; l.parent; {
		_, after, ok := strings.Cut(rest, ".")
		if !ok || after == "" {
			break
		}
		keys = append(keys, after)
		rest = after
	}
	return keys
}

// Close releases the list's tables.
func (l *List) Close() {
	if l == nil {
		return
	}
	for _, e := range l.entries {
		if e.table != nil {
			_ = e.table.Close()
		}
	}
}
