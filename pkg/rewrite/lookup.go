package rewrite

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// splitAddr splits addr at its last "@". hasDomain is false when there is
// none.
func splitAddr(addr string) (local, domain string, hasDomain bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, "", false
	}
	return addr[:i], addr[i+1:], true
}

// SplitExtension splits a local part at the first recipient delimiter, as
// Postfix's split_addr does: ext starts with the delimiter; it is "" when
// there is no delimiter, when the user name would be empty, and for the
// reserved names postmaster, MAILER-DAEMON and double_bounce_sender (and,
// when "-" is a delimiter, owner-* and *-request).
func (s *Settings) SplitExtension(local string) (user, ext string) {
	if s.RecipientDelimiter == "" {
		return local, ""
	}
	bounce := s.DoubleBounceSender
	if bounce == "" {
		bounce = "double-bounce"
	}
	if strings.EqualFold(local, "postmaster") || strings.EqualFold(local, "MAILER-DAEMON") ||
		strings.EqualFold(local, bounce) {
		return local, ""
	}
	if strings.Contains(s.RecipientDelimiter, "-") {
		lower := strings.ToLower(local)
		if strings.HasPrefix(lower, "owner-") || (len(lower) > len("-request") && strings.HasSuffix(lower, "-request")) {
			return local, ""
		}
	}
	i := strings.IndexAny(local, s.RecipientDelimiter)
	if i <= 0 {
		return local, ""
	}
	return local[:i], local[i:]
}

// isPatternTable reports whether m is a regular-expression table. Postfix
// searches those with the whole address only, never with its parts.
func isPatternTable(m maps.Map) bool {
	typ, _, _ := strings.Cut(m.Name(), ":")
	return typ == "regexp" || typ == "pcre"
}

// search looks key up in each table in order. Partial keys (anything but
// the address as given) skip regular-expression tables.
func search(ms []maps.Map, key string, partial bool) (string, bool, error) {
	for _, m := range ms {
		if partial && isPatternTable(m) {
			continue
		}
		v, ok, err := m.Lookup(key)
		if err != nil {
			return "", false, fmt.Errorf("lookup %q in %s: %w", key, m.Name(), err)
		}
		if ok {
			return v, true, nil
		}
	}
	return "", false, nil
}

// find searches ms in the order of canonical(5) and virtual(5):
// user+ext@domain, user@domain, then when domain is local user+ext and
// user, then @domain. An address without a domain is searched as
// user+ext, then user. ext is the extension (with its delimiter) when the
// match was found without it, else "".
func (s *Settings) find(ms []maps.Map, addr string) (value, ext string, found bool, err error) {
	local, domain, hasDomain := splitAddr(addr)
	user, extension := s.SplitExtension(local)
	at := ""
	if hasDomain {
		at = "@" + domain
	}
	if v, ok, err := search(ms, addr, false); err != nil || ok {
		return v, "", ok, err
	}
	if extension != "" {
		if v, ok, err := search(ms, user+at, true); err != nil || ok {
			return v, extension, ok, err
		}
	}
	if !hasDomain {
		return "", "", false, nil
	}
	isLocal, err := s.isLocal(domain)
	if err != nil {
		return "", "", false, err
	}
	if isLocal {
		if extension != "" {
			if v, ok, err := search(ms, local, true); err != nil || ok {
				return v, "", ok, err
			}
		}
		if v, ok, err := search(ms, user, true); err != nil || ok {
			return v, extension, ok, err
		}
	}
	v, ok, err := search(ms, at, true)
	return v, "", ok, err
}

// isLocal asks LocalDomains about domain.
func (s *Settings) isLocal(domain string) (bool, error) {
	if s.LocalDomains == nil {
		return false, nil
	}
	ok, err := s.LocalDomains(domain)
	if err != nil {
		return false, fmt.Errorf("local domain check for %q: %w", domain, err)
	}
	return ok, nil
}

// mapAddr looks addr up in ms and returns the addresses of the result, as
// Postfix's mail_addr_map does: a result "@domain" keeps the user of addr
// (without an unmatched extension) in that domain; each result address is
// qualified, and gets an unmatched extension back when propagate is set.
// A result without any address is a lookup error.
func (s *Settings) mapAddr(ms []maps.Map, param, addr string, propagate bool) ([]string, bool, error) {
	value, ext, found, err := s.find(ms, addr)
	if err != nil {
		return nil, false, &Error{Kind: KindLookup, Param: param, Addr: addr, Err: err}
	}
	if !found {
		return nil, false, nil
	}
	if strings.HasPrefix(value, "@") {
		local, _, _ := splitAddr(addr)
		value = strings.TrimSuffix(local, ext) + value
	}
	list := splitResult(value)
	if len(list) == 0 {
		return nil, false, &Error{Kind: KindLookup, Param: param, Addr: addr,
			Err: fmt.Errorf("%s lookup of %s returns non-address result %q", param, addr, value)}
	}
	for i, a := range list {
		if s.Qualify != nil {
			a = s.Qualify(a)
		}
		if propagate && ext != "" {
			a = addExtension(a, ext)
		}
		list[i] = a
	}
	return list, true, nil
}

// addExtension puts ext at the end of the local part of addr.
func addExtension(addr, ext string) string {
	local, domain, hasDomain := splitAddr(addr)
	if !hasDomain {
		return addr + ext
	}
	return local + ext + "@" + domain
}

// splitResult splits a table result into addresses: at commas and
// whitespace outside quotes and angle brackets. "Name <addr>" yields addr;
// "<>" and empty elements yield nothing.
func splitResult(value string) []string {
	var out []string
	for _, elem := range splitOutside(value, func(c byte) bool { return c == ',' }) {
		if i := strings.IndexByte(elem, '<'); i >= 0 {
			if j := strings.LastIndexByte(elem, '>'); j > i {
				if a := strings.TrimSpace(elem[i+1 : j]); a != "" {
					out = append(out, a)
				}
				continue
			}
		}
		out = append(out, splitOutside(elem, isSpaceByte)...)
	}
	return out
}

// splitOutside splits s at bytes sep matches that are outside double
// quotes and angle brackets, dropping empty parts.
func splitOutside(s string, sep func(byte) bool) []string {
	var out []string
	start, quoted, angle := 0, false, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			angle++
		case c == '>' && angle > 0:
			angle--
		case angle == 0 && sep(c):
			if part := strings.TrimSpace(s[start:i]); part != "" {
				out = append(out, part)
			}
			start = i + 1
		}
	}
	if part := strings.TrimSpace(s[min(start, len(s)):]); part != "" {
		out = append(out, part)
	}
	return out
}

func isSpaceByte(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}
