package restrict

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// DNS lists: reject_rbl_client and the reject_rhsbl_* restrictions ask a
// DNSBL whether the client address or a name is listed and reject it when
// it is; permit_dnswl_client and permit_rhswl_client ask a DNSWL and
// permit. The argument is the list's zone, optionally with "=d.d.d.d": a
// pattern that the A record must match (each d a number, or [...] with
// ";"-separated numbers and n..m ranges), as in Postfix.

// dnsList is the parsed argument of a DNS list restriction.
type dnsList struct {
	spec   string       // as written: the key of rbl_reply_maps
	zone   string       // without the "=..." part, lower case
	filter *addrPattern // nil: any A record lists
}

// addrPattern matches an IPv4 address octet by octet.
type addrPattern [4][]octetRange

type octetRange struct{ lo, hi uint8 }

// matches reports whether a is an IPv4 address that p allows.
func (p *addrPattern) matches(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	for i, ranges := range p {
		ok := false
		for _, r := range ranges {
			ok = ok || r.lo <= b[i] && b[i] <= r.hi
		}
		if !ok {
			return false
		}
	}
	return true
}

// parseDNSList parses "zone" or "zone=pattern".
func parseDNSList(s string) (*dnsList, error) {
	zone, pat, hasPat := strings.Cut(s, "=")
	zone = strings.ToLower(strings.TrimSuffix(zone, "."))
	if !ValidHostname(zone) {
		return nil, fmt.Errorf("bad DNS list domain %q", zone)
	}
	l := &dnsList{spec: s, zone: zone}
	if hasPat {
		p, err := parseAddrPattern(pat)
		if err != nil {
			return nil, fmt.Errorf("DNS list %s: %w", s, err)
		}
		l.filter = p
	}
	return l, nil
}

// parseAddrPattern parses Postfix's DNSxL reply pattern: four octets
// separated by dots, each a number from 0 to 255 or a bracketed list of
// numbers and n..m ranges separated by ";" (127.0.0.[2..11], 127.0.0.[2;4]).
func parseAddrPattern(s string) (*addrPattern, error) {
	var p addrPattern
	rest := s
	for i := range 4 {
		if i > 0 {
			if !strings.HasPrefix(rest, ".") {
				return nil, fmt.Errorf("bad address pattern %q: need four octets", s)
			}
			rest = rest[1:]
		}
		var item string
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("bad address pattern %q: missing ]", s)
			}
			item, rest = rest[1:end], rest[end+1:]
		} else {
			end := strings.IndexByte(rest, '.')
			if end < 0 {
				end = len(rest)
			}
			item, rest = rest[:end], rest[end:]
			if strings.Contains(item, ";") || strings.Contains(item, "..") {
				return nil, fmt.Errorf("bad address pattern %q: lists and ranges need [...]", s)
			}
		}
		ranges, err := parseOctetItems(item)
		if err != nil {
			return nil, fmt.Errorf("bad address pattern %q: %w", s, err)
		}
		p[i] = ranges
	}
	if rest != "" {
		return nil, fmt.Errorf("bad address pattern %q: text after the fourth octet", s)
	}
	return &p, nil
}

// parseOctetItems parses "n", or "n;m..k;..." inside brackets.
func parseOctetItems(s string) ([]octetRange, error) {
	var out []octetRange
	for item := range strings.SplitSeq(s, ";") {
		lo, hi, isRange := strings.Cut(item, "..")
		a, err := parseOctet(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseOctet(hi); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("range %s is backwards", item)
			}
		}
		out = append(out, octetRange{a, b})
	}
	return out, nil
}

func parseOctet(s string) (uint8, error) {
	if s == "" || len(s) > 3 || !allDigits(s) {
		return 0, fmt.Errorf("bad octet %q", s)
	}
	n, _ := strconv.Atoi(s)
	if n > 255 {
		return 0, fmt.Errorf("octet %d is over 255", n)
	}
	return uint8(n), nil
}

// reversedAddr is a client address as DNS lists index it: the octets of
// an IPv4 address, or the nibbles of an IPv6 one, last first.
func reversedAddr(a netip.Addr) string {
	a = a.Unmap()
	var b strings.Builder
	if a.Is4() {
		o := a.As4()
		for i := 3; i >= 0; i-- {
			b.WriteString(strconv.Itoa(int(o[i])))
			if i > 0 {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	const hex = "0123456789abcdef"
	o := a.As16()
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[o[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[o[i]>>4])
		if i > 0 {
			b.WriteByte('.')
		}
	}
	return b.String()
}

// listedName is the name a domain list is asked about for what (a host
// name, or an address whose domain counts): "" when there is nothing to
// ask, as for an address literal, a malformed name or a name whose last
// label is numeric (some lists refuse what looks like an IP address).
func listedName(what string) string {
	domain := what
	if i := strings.LastIndexByte(what, '@'); i >= 0 {
		domain = what[i+1:]
	}
	domain = strings.ToLower(trimDot(domain))
	if domain == "" || strings.HasPrefix(domain, "[") || !ValidHostname(domain) {
		return ""
	}
	last := domain[strings.LastIndexByte(domain, '.')+1:]
	if allDigits(last) {
		return ""
	}
	return domain
}

// listing is the outcome of one DNS list query.
type listing int

const (
	notListed listing = iota
	listed
	listUnknown // the lookup failed
)

// lookupList asks list about name (the reversed address or domain).
func (e *eval) lookupList(l *dnsList, name string) (listing, string) {
	query := name + "." + l.zone
	addrs, text, err := e.c.deps.DNSList(e.ctx, query)
	if err != nil {
		e.logf("warning: %s: DNS list lookup error: %v", query, err)
		return listUnknown, ""
	}
	for _, a := range addrs {
		if l.filter == nil || l.filter.matches(a) {
			return listed, text
		}
	}
	return notListed, ""
}

// stepDNSList evaluates the DNS list restrictions.
func (e *eval) stepDNSList(s step) status {
	f := &e.f
	switch s.kind {
	case kRejectRBLClient:
		return e.rejectListed(s, reversedAddr(f.ClientAddr), f.ClientAddr.Unmap().String(), classClient)
	case kPermitDNSWLClient:
		return e.permitListed(s, reversedAddr(f.ClientAddr), f.ClientAddr.Unmap().String())
	case kRejectRHSBLClient, kPermitRHSWLClient:
		name := f.ClientName
		if name == "" || name == "unknown" {
			return dunno
		}
		if s.kind == kPermitRHSWLClient {
			return e.permitListed(s, listedName(name), name)
		}
		return e.rejectListed(s, listedName(name), name, classClient)
	case kRejectRHSBLReverseClient:
		if name := e.reverseName(); name != "unknown" {
			return e.rejectListed(s, listedName(name), name, classRevClient)
		}
	case kRejectRHSBLHelo:
		if e.hasHelo {
			return e.rejectListed(s, listedName(f.Helo), f.Helo, classHelo)
		}
	case kRejectRHSBLSender:
		if e.hasFrom && f.Sender != "" {
			return e.rejectListed(s, listedName(f.Sender), f.Sender, classSender)
		}
	case kRejectRHSBLRecipient:
		if e.hasRcpt {
			return e.rejectListed(s, listedName(f.Recipient), f.Recipient, classRecipient)
		}
	}
	return dunno
}

// rejectListed rejects what when name is listed; a failed lookup counts
// as not listed, as in Postfix.
func (e *eval) rejectListed(s step, name, what, class string) status {
	if name == "" {
		return dunno
	}
	st, text := e.lookupList(s.list, name)
	if st != listed {
		return dunno
	}
	return e.rblReject(s.list, what, class, text)
}

// permitListed permits when name is listed in a DNSWL. For safety it never
// permits a recipient that reject_unauth_destination would refuse, and a
// failed lookup defers a request that would be rejected (Postfix's
// DEFER_IF_REJECT).
func (e *eval) permitListed(s step, name, what string) status {
	if name == "" {
		return dunno
	}
	if e.stage == Rcpt && e.f.Recipient != "" && e.permitAuthDest(e.f.Recipient) != permitted {
		return dunno
	}
	switch st, _ := e.lookupList(s.list, name); st {
	case listed:
		return e.permit(s.word, classClient, e.namaddr)
	case listUnknown:
		return e.deferIfReject(classReject(450, "4.7.1", listCtx{name: what, class: classClient}, "Service unavailable"))
	}
	return dunno
}

// rblReject builds the reply to a listed client or name from the
// template that rbl_reply_maps gives the list, or default_rbl_reply.
func (e *eval) rblReject(l *dnsList, what, class, text string) status {
	tmpl, err := e.rblTemplate(l)
	if err != nil {
		return e.serverError("rbl_reply_maps: %v", err)
	}
	vars := e.templateVars()
	vars["rbl_code"] = strconv.Itoa(e.c.set.rblCode)
	vars["rbl_domain"], vars["rbl_what"], vars["rbl_class"] = l.zone, what, class
	vars["rbl_reason"], vars["rbl_txt"] = text, text
	out, err := config.ExpandVars(tmpl, vars)
	if err != nil {
		e.logf("warning: bad DNSBL reply template for %s: %q: %v", l.spec, tmpl, err)
		if out, err = config.ExpandVars(e.c.set.rblReply, vars); err != nil {
			return e.serverError("default_rbl_reply: %v", err)
		}
	}
	r, ok := parseTemplateReply(out)
	if !ok {
		e.logf("warning: DNSBL reply code configuration error: %s", out)
		r = rej{code: 450, dsn: "4.7.1", text: "Service unavailable"}
	}
	r.dsn = dsnFix(r.dsn, class)
	r.reason = fmt.Sprintf("%s [%s] blocked using %s", class, what, l.zone)
	return e.reject(r)
}

// rblTemplate is the reply template for l: its rbl_reply_maps entry,
// looked up by the restriction's argument as written, or
// default_rbl_reply.
func (e *eval) rblTemplate(l *dnsList) (string, error) {
	for _, spec := range e.c.set.rblReplyMaps {
		v, ok, err := e.lookup(spec, l.spec)
		if err != nil {
			return "", err
		}
		if ok {
			return v, nil
		}
	}
	return e.c.set.rblReply, nil
}

// parseTemplateReply splits an expanded reply template: a 4xx or 5xx code,
// a space, an optional enhanced status code (4.7.1 by default) and the
// text ("Service unavailable" when empty).
func parseTemplateReply(s string) (rej, bool) {
	if len(s) < 4 || s[0] != '4' && s[0] != '5' || !isDigit(s[1]) || !isDigit(s[2]) || s[3] != ' ' {
		return rej{}, false
	}
	code, _ := strconv.Atoi(s[:3])
	dsn, text := splitDSN(strings.TrimLeft(s[4:], " "))
	if dsn == "" {
		dsn = "4.7.1"
	}
	if text == "" {
		text = "Service unavailable"
	}
	return rej{code: code, dsn: dsn, text: text}, true
}

// templateVars are the names Postfix's reply templates may use about the
// client and the envelope.
func (e *eval) templateVars() map[string]string {
	f := &e.f
	v := map[string]string{
		"client": e.namaddr, "client_address": f.ClientAddr.Unmap().String(),
		"client_name": f.ClientName, "reverse_client_name": e.reverseName(),
		"client_port": strconv.Itoa(f.ClientPort), "helo_name": f.Helo,
		"sender": f.Sender, "recipient": f.Recipient, "sasl_username": f.SASLUser,
	}
	if v["client_name"] == "" {
		v["client_name"] = "unknown"
	}
	for _, who := range []string{"sender", "recipient"} {
		if i := strings.LastIndexByte(v[who], '@'); i >= 0 {
			v[who+"_name"], v[who+"_domain"] = v[who][:i], v[who][i+1:]
		} else {
			v[who+"_name"] = v[who]
		}
	}
	return v
}

// ParseDNSListSpec parses a DNS list as reject_rbl_client takes it, "zone"
// or "zone=pattern", for postscreen_dnsbl_sites: it returns the zone and
// whether an answer lists.
func ParseDNSListSpec(spec string) (zone string, listed func(netip.Addr) bool, err error) {
	l, err := parseDNSList(spec)
	if err != nil {
		return "", nil, err
	}
	return l.zone, func(a netip.Addr) bool { return l.filter == nil || l.filter.matches(a) }, nil
}

// ReversedAddr is a client address as DNS lists index it.
func ReversedAddr(a netip.Addr) string { return reversedAddr(a) }
