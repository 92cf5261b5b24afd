// Package netlist matches client IP addresses against a Postfix network
// list such as mynetworks, smtpd_client_event_limit_exceptions or
// smtpd_forbid_bare_newline_exclusions: addresses and address/length
// networks (IPv6 in brackets, "[2001:db8::]/32"), "!pattern" exclusions,
// "/file/name" files holding more patterns, and "type:table" lookup
// tables searched with the address (a cidr: table matches networks; the
// result is ignored). Patterns are tried in order and the first that
// matches decides, as in Postfix's match lists.
package netlist

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// entry is one pattern of the list.
type entry struct {
	negate bool
	prefix netip.Prefix // valid unless table is set
	table  maps.Map
}

// List is a parsed network list. It is safe for concurrent use when its
// tables are. The zero List and a nil *List match nothing.
type List struct {
	param   string
	entries []entry
	tables  []maps.Map
}

// New parses the elements of a network list parameter; param names it in
// errors. Tables are opened with opt; Close releases them.
func New(param string, elems []string, opt maps.Options) (*List, error) {
	l := &List{param: param}
	if err := l.add(elems, false, opt, 0); err != nil {
		_ = l.Close()
		return nil, err
	}
	return l, nil
}

// add appends the patterns in elems, each negated when negate is set (the
// patterns of a "!/file/name").
func (l *List) add(elems []string, negate bool, opt maps.Options, depth int) error {
	for _, elem := range elems {
		e, neg := tablefile.ListPattern(elem)
		if e == "" {
			continue
		}
		if err := l.addOne(e, neg != negate, opt, depth); err != nil {
			return err
		}
	}
	return nil
}

// addOne appends one pattern without its "!".
func (l *List) addOne(e string, neg bool, opt maps.Options, depth int) error {
	p, perr := ParsePrefix(e)
	switch {
	case perr == nil:
		l.entries = append(l.entries, entry{negate: neg, prefix: p})
		return nil
	case strings.HasPrefix(e, "/"):
		if depth >= tablefile.MaxListDepth {
			return fmt.Errorf("%s: %s: files nested more than %d deep", l.param, e, tablefile.MaxListDepth)
		}
		words, err := tablefile.ListFile(e)
		if err != nil {
			return fmt.Errorf("%s: %w", l.param, err)
		}
		return l.add(words, neg, opt, depth+1)
	case strings.HasPrefix(e, "[") || !strings.Contains(e, ":"):
		return fmt.Errorf("%s: %w", l.param, perr)
	}
	m, err := maps.Open(e, opt)
	if err != nil {
		return fmt.Errorf("%s: %w", l.param, err)
	}
	l.tables = append(l.tables, m)
	l.entries = append(l.entries, entry{negate: neg, table: m})
	return nil
}

// ParsePrefix parses one address pattern: an address or address/length,
// IPv6 optionally in brackets ("[::1]", "[2001:db8::]/32"). An address
// stands for itself (a /32 or /128 network); the host bits of a network
// are cleared. IPv4-mapped IPv6 addresses and networks
// ("[::ffff:127.0.0.0]/104") become their IPv4 equivalents, as client
// addresses are matched unmapped.
func ParsePrefix(item string) (netip.Prefix, error) {
	s := item
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return netip.Prefix{}, fmt.Errorf("bad network %q: missing ']'", item)
		}
		s = s[1:end] + s[end+1:]
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad network %q: %w", item, err)
		}
		if p.Addr().Is4In6() {
			// Debian's default mynetworks has [::ffff:127.0.0.0]/104: the
			// IPv4 clients of an IPv6 socket. tern sees those as IPv4
			// addresses, so the network is its IPv4 part.
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("bad network %q: an IPv4-mapped network needs a length of 96 or more", item)
			}
			return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked(), nil
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("bad network %q: need an address, address/length, /file/name or type:table", item)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Empty reports whether the list has no patterns.
func (l *List) Empty() bool { return l == nil || len(l.entries) == 0 }

// Match reports whether a is in the list. A table that cannot be searched
// is an error: callers defer rather than guess.
func (l *List) Match(a netip.Addr) (bool, error) {
	if l == nil || !a.IsValid() {
		return false, nil
	}
	a = a.Unmap()
	for _, e := range l.entries {
		if e.table == nil {
			if e.prefix.Contains(a) {
				return !e.negate, nil
			}
			continue
		}
		_, found, err := e.table.Lookup(a.String())
		if err != nil {
			return false, fmt.Errorf("%s: %s: %w", l.param, e.table.Name(), err)
		}
		if found {
			return !e.negate, nil
		}
	}
	return false, nil
}

// Close releases the list's tables.
func (l *List) Close() error {
	if l == nil {
		return nil
	}
	return maps.CloseAll(l.tables)
}
