package smtpd

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tern-mta/tern/pkg/reply"
)

// XFORWARD (Postfix's XFORWARD_README): a content filter that hands mail
// back to smtpd tells it, for logging and the Received header, who the
// original client was. Only clients in smtpd_authorized_xforward_hosts
// are offered the command; it changes audit trails.

// xforwardExtension is the EHLO keyword with the attributes tern takes.
const xforwardExtension = "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT"

// xforwardValueMax is the longest attribute value after decoding.
const xforwardValueMax = 255

// Replies of XFORWARD, XCLIENT and ETRN, as Postfix words them.
var (
	replyNotAuthorized  = reply.New(reply.CodeMailboxUnavail, reply.StatusPolicy, "Error: insufficient authorization")
	replyInTransaction  = reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: MAIL transaction in progress")
	replyXforwardSyntax = reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: XFORWARD attribute=value...")
)

// forwarded is what XFORWARD commands said since the last transaction;
// "" is an attribute that is unavailable.
type forwarded struct {
	name, addr, port, proto, helo, source, ident string
}

// xforwardAllowed says whether the client may use XFORWARD.
func (s *session) xforwardAllowed() bool {
	return s.srv.exempt(s.srv.set.xforwardHosts, s.client.addr)
}

// xforward handles XFORWARD attr=value ...: the first command of a
// transaction starts from all attributes unavailable, each sets the
// attributes it names ([UNAVAILABLE] erases one), and the transaction's
// end (its final reply or RSET) drops them.
func (s *session) xforward(_ context.Context, arg string) reply.Reply {
	if !s.xforwardAllowed() {
		return replyNotAuthorized
	}
	if s.tx != nil {
		return replyInTransaction
	}
	next := forwarded{}
	if s.fwd != nil {
		next = *s.fwd
	}
	next, r := parseXforward(next, arg)
	if !r.IsZero() {
		return r
	}
	s.fwd = &next
	return replyOK
}

// parseXforward applies the attributes of one XFORWARD argument to f. A
// non-zero reply is the syntax error that leaves f as it was.
func parseXforward(f forwarded, arg string) (forwarded, reply.Reply) {
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return f, replyXforwardSyntax
	}
	next := f
	for _, fl := range fields {
		name, value, r := xtextAttr(fl, replyXforwardSyntax)
		if !r.IsZero() {
			return f, r
		}
		if strings.EqualFold(value, "[UNAVAILABLE]") {
			value = ""
		}
		dst := next.field(name)
		if dst == nil {
			return f, reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: unknown XFORWARD attribute %s", name)
		}
		*dst = value
	}
	return next, reply.Reply{}
}

// xtextAttr reads one name=value attribute of XFORWARD or XCLIENT: the
// name in upper case and the value xtext-decoded, at most 255 octets of
// printable characters without spaces. A non-zero reply is its syntax
// error (syntax for a word without "=").
func xtextAttr(f string, syntax reply.Reply) (name, value string, r reply.Reply) {
	name, raw, ok := strings.Cut(f, "=")
	if !ok {
		return "", "", syntax
	}
	name = strings.ToUpper(name)
	value, ok = decodeXtext(raw)
	if !ok || len(value) > xforwardValueMax || !printableToken(value) {
		return "", "", reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: bad %s syntax", name)
	}
	return name, value, reply.Reply{}
}

// field returns the attribute named name, nil for an unknown name.
func (f *forwarded) field(name string) *string {
	switch name {
	case "NAME":
		return &f.name
	case "ADDR":
		return &f.addr
	case "PORT":
		return &f.port
	case "PROTO":
		return &f.proto
	case "HELO":
		return &f.helo
	case "SOURCE":
		return &f.source
	case "IDENT":
		return &f.ident
	}
	return nil
}

// printableToken reports whether v has only printable ASCII without
// spaces or characters special in headers (XFORWARD_README note 1).
func printableToken(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c > '~' || strings.IndexByte(`()<>;"\`, c) >= 0 {
			return false
		}
	}
	return true
}

// origin is the client, HELO name and protocol that the transaction's
// envelope (and so its Received header) names: the forwarded ones when
// XFORWARD gave an address, the session's own otherwise. A forwarded
// address of [UNAVAILABLE] is a forwarded local submission, whose other
// attributes are ignored.
func (s *session) origin() (name, addr, helo, proto string) {
	name, addr, helo, proto = s.client.name, s.client.addr.String(), s.helo, s.protocol()
	f := s.fwd
	if f == nil || f.addr == "" {
		return name, addr, helo, proto
	}
	addr = strings.TrimPrefix(f.addr, "IPV6:")
	if a, err := netip.ParseAddr(addr); err == nil {
		addr = a.String()
	}
	name, helo, proto = orUnknown(f.name), f.helo, orUnknown(f.proto)
	return name, addr, helo, proto
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// forwardedLog is what the client= line adds about forwarded attributes:
// ", orig_queue_id=ID, orig_client=name[addr]", as Postfix logs them.
func (s *session) forwardedLog() string {
	f := s.fwd
	if f == nil {
		return ""
	}
	var b strings.Builder
	if f.ident != "" {
		fmt.Fprintf(&b, ", orig_queue_id=%s", f.ident)
	}
	if f.addr != "" {
		name, addr, _, _ := s.origin()
		fmt.Fprintf(&b, ", orig_client=%s[%s]", name, addr)
	}
	return b.String()
}
