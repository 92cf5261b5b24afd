package smtpd

import (
	"context"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// XCLIENT (Postfix's XCLIENT_README): a trusted proxy or test tool in
// smtpd_authorized_xclient_hosts says which client it speaks for, and the
// session starts again as that client's: the logs, the restrictions,
// mynetworks and the Received header see the client named. Unlike
// XFORWARD, which only changes what is logged.

// xclientExtension is the EHLO keyword with the attributes tern takes.
const xclientExtension = "XCLIENT NAME ADDR PORT PROTO HELO LOGIN REVERSE_NAME DESTADDR DESTPORT"

var replyXclientSyntax = reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: XCLIENT attribute=value...")

// xclientAllowed says whether the connection's own client may use
// XCLIENT; a client named by XCLIENT does not change that.
func (s *session) xclientAllowed() bool {
	return s.srv.exempt(s.srv.set.xclientHosts, s.peer)
}

// xclient handles XCLIENT attr=value ...: the session becomes the named
// client's and starts again with the greeting, as in Postfix.
func (s *session) xclient(ctx context.Context, arg string) reply.Reply {
	if !s.xclientAllowed() {
		return replyNotAuthorized
	}
	if s.tx != nil {
		return replyInTransaction
	}
	fields := strings.Fields(arg)
	if len(fields) == 0 {
		return replyXclientSyntax
	}
	c, helo, login, esmtp := s.client, s.helo, s.authUser, s.esmtp
	for _, f := range fields {
		name, value, r := xtextAttr(f, replyXclientSyntax)
		if !r.IsZero() {
			return r
		}
		unavailable := strings.EqualFold(value, "[UNAVAILABLE]") || strings.EqualFold(value, "[TEMPUNAVAIL]")
		switch name {
		case "NAME":
			c.name = "unknown"
			if !unavailable {
				c.name = value
			}
		case "ADDR":
			a, err := netip.ParseAddr(strings.TrimPrefix(strings.TrimPrefix(value, "IPV6:"), "IPv6:"))
			if err != nil && !unavailable {
				return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: bad ADDR syntax: %s", value)
			}
			c.addr = a.Unmap()
		case "PORT":
			p, err := strconv.Atoi(value)
			if (err != nil || p < 0 || p > 65535) && !unavailable {
				return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: bad PORT syntax: %s", value)
			}
			c.port = p
		case "PROTO":
			esmtp = strings.EqualFold(value, "ESMTP")
		case "HELO":
			helo = value
			if unavailable {
				helo = ""
			}
		case "LOGIN":
			login = value
			if unavailable {
				login = ""
			}
		case "REVERSE_NAME", "DESTADDR", "DESTPORT":
			// accepted; tern keeps no separate reverse name or
			// server address
		default:
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: bad XCLIENT attribute name: %s", name)
		}
	}
	s.reset()
	s.client, s.helo, s.authUser, s.esmtp = c, helo, login, esmtp
	if login != "" {
		s.authMech = "XCLIENT"
	}
	if s.srv.checker != nil {
		s.policy = s.srv.checker.NewSession()
	}
	s.connReject = reply.Reply{}
	if r := s.check(ctx, restrict.Connect, ""); !r.IsZero() {
		s.connReject = r
	}
	// The milters start again too, told about the client XCLIENT named.
	if s.milt != nil {
		s.milt.Close()
		s.milt = nil
	}
	s.startMilters()
	return reply.Reply{Code: reply.CodeReady, Text: s.srv.set.banner}
}
