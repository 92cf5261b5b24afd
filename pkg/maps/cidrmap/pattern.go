package cidrmap

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// parsePattern parses "[!]address[/prefix]". The address may be written
// inside "[]". An address without a prefix length matches that host only.
// match is false when the pattern is negated.
func parsePattern(s string) (prefix netip.Prefix, match bool, err error) {
	match = true
	for strings.HasPrefix(s, "!") {
		match = !match
		s = s[1:]
	}
	if s == "" {
		return prefix, match, fmt.Errorf("no address pattern")
	}
	addrText, lenText, hasLen := strings.Cut(s, "/")
	addr, err := parseAddr(addrText, s)
	if err != nil {
		return prefix, match, err
	}
	bits := addr.BitLen()
	if hasLen {
		if bits, err = parseLen(lenText, addr.BitLen()); err != nil {
			return prefix, match, fmt.Errorf("bad net/mask pattern: %q", s)
		}
	}
	prefix = netip.PrefixFrom(addr, bits)
	if masked := prefix.Masked(); masked.Addr() != addr {
		return prefix, match, fmt.Errorf("non-null host address bits in %q, perhaps you should use %q instead", s, masked.String())
	}
	return unmapPrefix(prefix), match, nil
}

// parseAddr parses the address part of a pattern, with optional brackets.
func parseAddr(text, pattern string) (netip.Addr, error) {
	if strings.HasPrefix(text, "[") {
		if !strings.HasSuffix(text, "]") {
			return netip.Addr{}, fmt.Errorf("missing \"]\" character after %q", text)
		}
		text = text[1 : len(text)-1]
	}
	addr, err := netip.ParseAddr(text)
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("bad address pattern: %q", pattern)
	}
	return addr, nil
}

// parseLen parses a prefix length of at most max bits.
func parseLen(s string, max int) (int, error) {
	if s == "" || len(s) > 3 || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Errorf("bad prefix length %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > max {
		return 0, fmt.Errorf("bad prefix length %q", s)
	}
	return n, nil
}

// unmapPrefix turns an IPv4-mapped IPv6 network of at least 96 bits into
// the IPv4 network it carries, since lookup keys are unmapped too.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if !p.Addr().Is4In6() || p.Bits() < 96 {
		return p
	}
	return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
}
