package rewrite

import (
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// Masquerade strips subdomains from the domain of addr as
// masquerade_domains says, whatever the address class: the first entry
// that is the domain itself or one of its parents decides. A parent entry
// replaces the domain with itself; the domain itself, or a "!domain"
// entry, leaves the address alone. Users in masquerade_exceptions (local
// part compared in lower case) are never masqueraded. Entries are compared
// without case; a replaced domain is written in lower case.
func (s *Settings) Masquerade(addr string) (string, error) {
	local, domain, hasDomain := splitAddr(addr)
	if !hasDomain || len(s.MasqueradeDomains) == 0 {
		return addr, nil
	}
	excluded, err := s.masqueradeExcluded(local)
	if err != nil {
		return addr, &Error{Kind: KindLookup, Param: "masquerade_exceptions", Addr: addr, Err: err}
	}
	if excluded {
		return addr, nil
	}
	domain = strings.ToLower(domain)
	for _, m := range s.MasqueradeDomains {
		truncate := true
		for strings.HasPrefix(m, "!") {
			m = m[1:]
			truncate = !truncate
		}
		m = strings.ToLower(m)
		switch {
		case m == "":
			continue
		case m == domain:
			return addr, nil
		case strings.HasSuffix(domain, "."+m):
			if truncate {
				return local + "@" + m, nil
			}
			return addr, nil
		}
	}
	return addr, nil
}

// masqueradeExcluded reports whether user is in masquerade_exceptions.
func (s *Settings) masqueradeExcluded(user string) (bool, error) {
	user = strings.ToLower(user)
	if s.MasqueradeExceptions[user] {
		return true, nil
	}
	if len(s.MasqueradeExceptionMaps) == 0 {
		return false, nil
	}
	_, found, err := maps.LookupFirst(s.MasqueradeExceptionMaps, user)
	return found, err
}
