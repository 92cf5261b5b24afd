package screen

import (
	"net/netip"
	"strings"
)

// accessResult is postscreen_access_list's verdict on a client.
type accessResult int

const (
	accessDunno accessResult = iota
	accessPermit
	accessReject
)

// access evaluates postscreen_access_list for a: the first element with
// a verdict decides. A table's value is itself a list of permit, reject,
// dunno and permit_mynetworks; anything else, or a failed lookup, is
// warned about and counts as dunno, as in Postfix.
func (sc *Screen) access(a netip.Addr) accessResult {
	for _, item := range sc.set.Access {
		if item.mynetworks {
			if sc.inMyNetworks(a) {
				return accessPermit
			}
			continue
		}
		v, found, err := item.table.Lookup(a.String())
		if err != nil {
			sc.log.Warnf("postscreen_access_list: %s: lookup of %s: %v", item.table.Name(), a, err)
			continue
		}
		if !found {
			continue
		}
		if r := sc.accessValue(item.table.Name(), a, v); r != accessDunno {
			return r
		}
	}
	return accessDunno
}

// accessValue evaluates a table's value for a.
func (sc *Screen) accessValue(table string, a netip.Addr, v string) accessResult {
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		switch strings.ToLower(w) {
		case "permit":
			return accessPermit
		case "reject":
			return accessReject
		case "dunno":
			return accessDunno
		case "permit_mynetworks":
			if sc.inMyNetworks(a) {
				return accessPermit
			}
		default:
			sc.log.Warnf("postscreen_access_list: %s: unknown action %q for %s: ignored", table, w, a)
		}
	}
	return accessDunno
}

// inMyNetworks reports whether mynetworks matches a; a failed lookup in a
// mynetworks table is warned about and does not match.
func (sc *Screen) inMyNetworks(a netip.Addr) bool {
	if sc.set.MyNetworks == nil {
		return false
	}
	ok, err := sc.set.MyNetworks.Match(a)
	if err != nil {
		sc.log.Warnf("postscreen_access_list: permit_mynetworks: %v", err)
	}
	return ok
}
