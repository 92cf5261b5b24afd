package rewrite

import "strings"

// ExpandVirtual expands addr through virtual_alias_maps as cleanup(8)
// does. Each address of the list is looked up again, in place, until it is
// not found; the first address of a multi-address result replaces the
// address looked up and the others are appended to the list. An address
// whose result contains the address itself ("a -> a" or "a -> a, b") is
// kept and not expanded again; a loop through other addresses ("a -> b,
// b -> a") ends at the recursion limit, which like the expansion and
// address length limits and a table error is an *Error (Postfix defers the
// message). The result has duplicates removed, ignoring case, keeping
// the first.
func (s *Settings) ExpandVirtual(addr string) ([]string, error) {
	if len(s.VirtualAlias) == 0 || addr == "" {
		return []string{addr}, nil
	}
	recursion := limit(s.RecursionLimit, DefaultRecursionLimit)
	expansion := limit(s.ExpansionLimit, DefaultExpansionLimit)
	length := limit(s.AddressLengthLimit, DefaultAddressLengthLimit)
	propagate := s.propagates("virtual")

	list := []string{addr}
	fixed := make(map[string]bool) // addresses that expanded into themselves
	for i := 0; i < len(list); i++ {
		if len(list) > expansion {
			return nil, &Error{Kind: KindExpansion, Param: "virtual_alias_maps", Addr: addr}
		}
		for count := 0; !fixed[strings.ToLower(list[i])]; count++ {
			if count >= recursion {
				return nil, &Error{Kind: KindNesting, Param: "virtual_alias_maps", Addr: addr}
			}
			res, found, err := s.mapAddr(s.VirtualAlias, "virtual_alias_maps", list[i], propagate)
			if err != nil {
				return nil, err
			}
			if !found {
				break
			}
			if list, err = s.replace(list, i, res, length, addr, fixed); err != nil {
				return nil, err
			}
		}
	}
	return dedupFold(list), nil
}

// replace puts res[0] at list[i] and appends the rest of res, marking the
// address looked up as fixed when res contains it.
func (s *Settings) replace(list []string, i int, res []string, length int, orig string, fixed map[string]bool) ([]string, error) {
	lhs := list[i]
	for j, r := range res {
		if len(r) > length {
			return nil, &Error{Kind: KindLength, Param: "virtual_alias_maps", Addr: orig}
		}
		if j == 0 {
			list[i] = r
		} else {
			list = append(list, r)
		}
		if strings.EqualFold(lhs, r) {
			fixed[strings.ToLower(lhs)] = true
		}
	}
	return list, nil
}

// dedupFold removes later duplicates, comparing without case.
func dedupFold(list []string) []string {
	seen := make(map[string]bool, len(list))
	out := list[:0]
	for _, a := range list {
		k := strings.ToLower(a)
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, a)
	}
	return out
}
