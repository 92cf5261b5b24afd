package smtpd

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// mail serves MAIL FROM (RFC 5321 section 4.1.1.2) with the ESMTP
// parameters SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8 (RFC 6531), RET
// and ENVID (RFC 3461) and AUTH (RFC 4954 section 5).
func (s *session) mail(ctx context.Context, arg string) reply.Reply {
	switch {
	case !s.connReject.IsZero():
		return s.connReject
	case s.helo == "" && s.srv.set.heloRequired:
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: send HELO/EHLO first")
	case s.tx != nil:
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: nested MAIL command")
	}
	if r := s.needTLS(); !r.IsZero() {
		return r
	}
	raw, params, ok := pathArg(arg, "FROM:")
	if !ok {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: MAIL FROM:<address>")
	}
	if s.srv.set.strictEnvelopes && !bracketed(arg, "FROM:") {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadSenderSyntax, "Bad sender address syntax")
	}
	tx := &transaction{prepend: slices.Clone(s.prepend),
		instance: strconv.FormatInt(time.Now().UnixNano(), 16) + "." + strconv.Itoa(s.client.port)}
	for _, p := range params {
		if r := s.mailParam(tx, p); !r.IsZero() {
			return r
		}
	}
	addr, problem := cleanPath(raw, tx.smtputf8 || !s.srv.set.strictSMTPUTF8)
	if !s.srv.set.allowMinUser && envelope.LooksLikeOption(addr) {
		problem = addrBadSyntax
	}
	switch problem {
	case addrBadSyntax:
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadSenderSyntax, "Bad sender address syntax")
	case addrNeedsUTF8:
		return replyNeedUTF8
	}
	if r := s.srv.checkMessageRate(s); !r.IsZero() {
		return r
	}
	if r := s.checkSpace(tx.size); !r.IsZero() {
		return r
	}
	tx.sender = addr
	s.tx = tx
	if r := s.check(ctx, restrict.Mail, ""); !r.IsZero() {
		s.tx = nil
		return r
	}
	if r := s.milterMail(params); !r.IsZero() {
		s.tx = nil
		return r
	}
	if s.srv.set.proxy != nil && s.srv.set.proxySpeedAdjust {
		tx.proxyMail = "MAIL " + arg
	} else if s.srv.set.proxy != nil {
		p, r := s.openProxy(ctx, "MAIL "+arg)
		if !r.IsZero() {
			s.tx = nil
			s.logWhatsup("proxy-reject", restrict.Mail, "", r.String())
			return r
		}
		tx.proxy = p
	}
	return reply.New(reply.CodeOK, reply.StatusSenderOK, "Ok")
}

// replyNeedUTF8 refuses a non-ASCII address without SMTPUTF8, RFC 6531
// section 3.6 (Postfix's wording).
var replyNeedUTF8 = reply.New(reply.CodeMailboxName, reply.StatusUTF8Needed, "Must declare SMTPUTF8 to send unicode address")

func (s *session) mailParam(tx *transaction, p param) reply.Reply {
	switch p.key {
	case "SIZE":
		n, ok := sizeParam(p.value)
		if !ok {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Bad message size syntax")
		}
		if lim := s.srv.set.sizeLimit; lim > 0 && n > lim {
			return reply.New(reply.CodeExceededStorage, reply.StatusTooBig, "Message size exceeds fixed limit")
		}
		tx.size = n
	case "BODY":
		if v := strings.ToUpper(p.value); v != "7BIT" && v != "8BITMIME" {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Unsupported BODY parameter value")
		}
	case "SMTPUTF8":
		if !s.srv.set.smtputf8 || p.has {
			return unsupported(p)
		}
		tx.smtputf8 = true
	case "RET":
		v := strings.ToUpper(p.value)
		if (v != "FULL" && v != "HDRS") || tx.ret != "" {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Bad RET parameter syntax")
		}
		tx.ret = v
	case "ENVID":
		v, ok := decodeXtext(p.value)
		if !ok || v == "" || len(v) > 100 || tx.envid != "" {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Bad ENVID parameter syntax")
		}
		tx.envid = v
	case "XVERP":
		if !s.verpAllowed() {
			return unsupported(p)
		}
		delims := s.srv.set.verpDelims
		if p.has {
			delims = p.value
		}
		if !envelope.VERPDelimitersOK(delims, s.srv.set.verpFilter) {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: XVERP needs two characters from %s", s.srv.set.verpFilter)
		}
		tx.verp = delims
	case "AUTH":
		// RFC 4954 section 5: the original submitter; tern keeps the
		// authenticated identity of this session instead.
	default:
		return unsupported(p)
	}
	return reply.Reply{}
}

// verpAllowed reports whether the client may ask for VERP
// (smtpd_authorized_verp_clients), as XCLIENT leaves it.
func (s *session) verpAllowed() bool {
	return s.srv.exempt(s.srv.set.verpClients, s.client.addr)
}

func unsupported(p param) reply.Reply {
	return reply.New(reply.CodeParamsPerm, reply.StatusBadParams, "Unsupported option: %s", p.key)
}

// rcpt serves RCPT TO (RFC 5321 section 4.1.1.3) with the DSN parameters
// NOTIFY and ORCPT (RFC 3461 section 4).
func (s *session) rcpt(ctx context.Context, arg string) reply.Reply {
	if s.tx == nil {
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: need MAIL command")
	}
	if s.tx.chunks != nil {
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: RCPT after BDAT")
	}
	if len(s.tx.rcpts) >= s.srv.set.recipientLimit {
		// RFC 5321 section 4.5.3.1.8: the client sends the rest in
		// another transaction. As in Postfix, only the recipients past
		// smtpd_recipient_overshoot_limit more count as errors, so that
		// a list server is not cut off before its DATA.
		s.tx.overshoot++
		s.notAnError = s.tx.overshoot <= s.srv.set.overshootLimit
		return reply.New(reply.CodeInsufficient, reply.StatusTempTooMany, "Error: too many recipients")
	}
	if r := s.srv.checkRecipientRate(s); !r.IsZero() {
		return r
	}
	raw, params, ok := pathArg(arg, "TO:")
	if !ok {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: RCPT TO:<address>")
	}
	if s.srv.set.strictEnvelopes && !bracketed(arg, "TO:") {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadRcptSyntax, "Bad recipient address syntax")
	}
	addr, problem := cleanPath(raw, s.tx.smtputf8 || !s.srv.set.strictSMTPUTF8)
	if !s.srv.set.allowMinUser && envelope.LooksLikeOption(addr) {
		problem = addrBadSyntax
	}
	switch {
	case problem == addrNeedsUTF8:
		return replyNeedUTF8
	case problem != addrOK || addr == "":
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadRcptSyntax, "Bad recipient address syntax")
	}
	rc := envelope.Recipient{Address: addr, Original: addr}
	for _, p := range params {
		if r := rcptParam(&rc, p); !r.IsZero() {
			return r
		}
	}
	// A message to be discarded goes nowhere: its recipients need no
	// more checks, as in Postfix.
	if r := s.screenReject; !r.IsZero() {
		s.logWhatsup("reject", restrict.Rcpt, addr, r.String())
		return r
	}
	if r := s.deep.Rcpt(); !r.IsZero() {
		s.logWhatsup("reject", restrict.Rcpt, addr, r.String())
		return r
	}
	if !s.tx.discard {
		if r := s.check(ctx, restrict.Rcpt, addr); !r.IsZero() {
			return r
		}
		if r := s.milterRcpt(addr, params); !r.IsZero() {
			return r
		}
	}
	if p := s.tx.proxy; p != nil {
		r, err := p.cmd("RCPT " + arg)
		if err != nil {
			s.srv.log.Warnf("proxy filter %s: %v", p.where, err)
			return replyProxyError
		}
		if !r.Positive() {
			s.logWhatsup("proxy-reject", restrict.Rcpt, addr, r.String())
			return r
		}
	}
	if s.srv.set.proxy != nil && s.srv.set.proxySpeedAdjust {
		s.tx.proxyRcpts = append(s.tx.proxyRcpts, "RCPT "+arg)
	}
	s.tx.rcpts = append(s.tx.rcpts, rc)
	return reply.New(reply.CodeOK, reply.StatusRcptOK, "Ok")
}

func rcptParam(rc *envelope.Recipient, p param) reply.Reply {
	switch p.key {
	case "NOTIFY":
		v, ok := parseNotify(p.value)
		if !ok || rc.Notify != "" {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: Bad NOTIFY parameter syntax")
		}
		rc.Notify = v
	case "ORCPT":
		// Kept decoded, with its type: "rfc822;user@example".
		typ, val, ok := strings.Cut(p.value, ";")
		typ = strings.ToLower(typ)
		var dec string
		good := false
		switch typ {
		case "rfc822":
			dec, good = decodeXtext(val)
		case "utf-8":
			dec, good = decodeUTF8AddrXtext(val)
		}
		if !ok || !good || dec == "" || rc.ORcpt != "" {
			return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: Bad ORCPT parameter syntax")
		}
		rc.ORcpt = typ + ";" + dec
	default:
		return unsupported(p)
	}
	return reply.Reply{}
}

// parseNotify checks an RFC 3461 section 4.1 NOTIFY value: NEVER alone, or
// a comma list of SUCCESS, FAILURE and DELAY.
func parseNotify(v string) (string, bool) {
	words := strings.Split(strings.ToUpper(v), ",")
	seen := map[string]bool{}
	for _, w := range words {
		switch w {
		case envelope.NotifyNever:
			if len(words) != 1 {
				return "", false
			}
		case envelope.NotifySuccess, envelope.NotifyFailure, envelope.NotifyDelay:
		default:
			return "", false
		}
		if seen[w] {
			return "", false
		}
		seen[w] = true
	}
	return strings.Join(words, ","), true
}
