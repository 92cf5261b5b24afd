package restrict

import (
	"net/netip"
	"strings"
)

// addrClass is the address class an address resolves to, as in
// trivial-rewrite(8).
type addrClass int

const (
	classDefault addrClass = iota // some other domain: relaying
	classLocal                    // mydestination, inet_interfaces
	classAlias                    // virtual_alias_domains
	classVirtual                  // virtual_mailbox_domains
	classRelay                    // relay_domains
)

// final reports the classes that Postfix delivers here (not relaying).
func (c addrClass) final() bool { return c == classLocal || c == classAlias || c == classVirtual }

// resolved is an address after canonicalisation and resolution.
type resolved struct {
	local, domain string // domain in lower case, without trailing dot
	addr          string // local@domain, the form tables are searched with
	class         addrClass
	routed        bool // non-local destination with @ % ! left in the local part
}

// maxResolveLoops bounds the strip-local-domain-and-retry loop.
const maxResolveLoops = 20

// resolve does what Postfix's smtpd gets from trivial-rewrite: strip a
// source route, look inside quotes (resolve_dequoted_address), qualify an
// unqualified address (site!user, user%site, user@$myorigin), then strip
// local domains and apply the % hack and ! paths to what is left, until
// the domain is not local. The result decides relaying: only the final
// domain counts, so user%other@local relays to "other".
func (e *eval) resolve(addr string) (resolved, error) {
	if r, ok := e.cache[addr]; ok {
		return r, nil
	}
	r, err := e.c.resolveAddr(addr)
	if err == nil {
		e.cache[addr] = r
	}
	return r, err
}

func (c *Checker) resolveAddr(addr string) (resolved, error) {
	set := &c.set
	local, domain, hasAt := splitAddress(StripSourceRoute(addr))
	// With resolve_dequoted_address = no a quoted local part is opaque:
	// operators inside the quotes are not looked at.
	opaque := !set.dequote && strings.HasPrefix(local, `"`)
	if !opaque {
		local = unquote(local)
	}
	if !hasAt {
		if opaque {
			domain = c.set.myorigin
		} else {
			local, domain = c.qualify(local)
		}
	}
	var saved string
	isLocal := false
	for i := 0; i < maxResolveLoops; i++ {
		domain = strings.ToLower(trimDot(domain))
		if domain == "" && !set.resolveNull {
			break
		}
		if domain != "" {
			ok, err := c.deps.LocalDomain(domain)
			if err != nil {
				return resolved{}, err
			}
			if !ok {
				break
			}
		}
		saved, isLocal = domain, true
		l, d, routed := c.unroute(local)
		if opaque || !routed {
			break
		}
		local, domain, isLocal = l, d, false
	}
	if isLocal {
		return resolved{local: local, domain: saved, addr: local + "@" + saved, class: classLocal}, nil
	}
	r := resolved{local: local, domain: domain, addr: local + "@" + domain,
		routed: !opaque && strings.ContainsAny(local, "@%!")}
	if domain == "" {
		return r, nil
	}
	var err error
	r.class, err = c.domainClass(domain)
	return r, err
}

// qualify rewrites an address without @ as trivial-rewrite does:
// site!user → user@site, user%site → user@site, user → user@$myorigin.
func (c *Checker) qualify(local string) (string, string) {
	if l, d, ok := c.unroute(local); ok {
		return l, d
	}
	domain := c.set.myorigin
	if c.set.appendDotMydomain && domain != "" && !strings.Contains(domain, ".") && c.set.mydomain != "" {
		domain += "." + c.set.mydomain
	}
	return local, domain
}

// unroute turns the routing operators left in a local part into a new
// address: a@b (from quotes), site!user (swap_bangpath), user%site
// (allow_percent_hack), in that order.
func (c *Checker) unroute(local string) (string, string, bool) {
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		return local[:i], local[i+1:], true
	}
	if c.set.swapBang {
		if i := strings.IndexByte(local, '!'); i >= 0 {
			return local[i+1:], local[:i], true
		}
	}
	if c.set.percentHack {
		if i := strings.LastIndexByte(local, '%'); i >= 0 {
			return local[:i], local[i+1:], true
		}
	}
	return "", "", false
}

// domainClass classifies a non-local domain.
func (c *Checker) domainClass(domain string) (addrClass, error) {
	d := c.deps
	if d.VirtualAliasDomain != nil {
		if ok, err := d.VirtualAliasDomain(domain); err != nil || ok {
			return classAlias, err
		}
	}
	if d.VirtualDomain != nil {
		if ok, err := d.VirtualDomain(domain); err != nil || ok {
			return classVirtual, err
		}
	}
	if d.RelayDomain != nil {
		if ok, err := d.RelayDomain(domain); err != nil || ok {
			return classRelay, err
		}
	}
	return classDefault, nil
}

// StripSourceRoute removes an RFC 5321 source route: "@a,@b:user@c"
// becomes "user@c". Other addresses are returned unchanged.
func StripSourceRoute(addr string) string {
	if !strings.HasPrefix(addr, "@") {
		return addr
	}
	depth := 0
	for i := 0; i < len(addr); i++ {
		switch addr[i] {
		case '[':
			depth++
		case ']':
			if depth > 0 {
				depth--
			}
		case ':':
			if depth == 0 {
				return addr[i+1:]
			}
		}
	}
	return addr
}

// splitAddress splits addr at its last '@' outside quotes and address
// literals; hasAt is false when there is none.
func splitAddress(addr string) (local, domain string, hasAt bool) {
	at := -1
	quoted, depth := false, 0
	for i := 0; i < len(addr); i++ {
		switch c := addr[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case c == '@' && depth == 0:
			at = i
		}
	}
	if at < 0 {
		return addr, "", false
	}
	return addr[:at], addr[at+1:], true
}

// Domain returns the domain of addr in lower case, without a trailing
// dot, after stripping a source route; "" when addr has no '@'.
func Domain(addr string) string {
	_, d, _ := splitAddress(StripSourceRoute(addr))
	return strings.ToLower(trimDot(d))
}

// unquote removes double quotes and backslash escapes from a local part.
func unquote(s string) string {
	if !strings.ContainsAny(s, `"\`) {
		return s
	}
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// trimDot removes one trailing dot, but not from "..", as Postfix does.
func trimDot(name string) string {
	if n := len(name); n > 1 && name[n-1] == '.' && name[n-2] != '.' {
		return name[:n-1]
	}
	return name
}

// ValidHostname checks RFC 1035 host name syntax as Postfix's
// valid_hostname: letters, digits, '-' and '_' in labels of at most 63
// characters, no label starting or ending with '-', at most 255
// characters, and not all-numeric (that would be an address).
func ValidHostname(name string) bool {
	if name == "" || len(name) > 255 {
		return false
	}
	numeric := true
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case isDigit(c):
			case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_':
				numeric = false
			default:
				return false
			}
		}
	}
	return !numeric
}

// validHostAddr reports a bare IPv4 or IPv6 address; the IPv4 form must
// be a dotted quad not starting with 0, as Postfix's valid_hostaddr.
func validHostAddr(s string) bool {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return false
	}
	if a.Is4() {
		return a.As4()[0] != 0
	}
	return true
}

// validAddrLiteral checks a HELO address literal: [1.2.3.4] or
// [IPv6:addr].
func validAddrLiteral(s string) bool {
	if len(s) < 3 || s[0] != '[' || s[len(s)-1] != ']' {
		return false
	}
	inner := s[1 : len(s)-1]
	if len(inner) > 5 && strings.EqualFold(inner[:5], "ipv6:") {
		a, err := netip.ParseAddr(inner[5:])
		return err == nil && a.Is6() && a.Zone() == ""
	}
	a, err := netip.ParseAddr(inner)
	return err == nil && a.Is4() && a.As4()[0] != 0
}
