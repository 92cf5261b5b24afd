package rewrite

import (
	"strings"

	"github.com/tern-mta/tern/pkg/rfc5322"
)

// HeaderClass returns the address class of a message header, as Postfix's
// header table assigns it: From, Sender, Reply-To, Errors-To, Return-Path,
// Return-Receipt-To, Disposition-Notification-To, Mail-Followup-To,
// Resent-From and Resent-Sender hold sender addresses; To, Cc, Bcc,
// Apparently-To, Resent-To, Resent-Cc, Resent-Bcc and (as in Postfix)
// Resent-Reply-To hold recipient addresses. ok is false for other headers.
func HeaderClass(name string) (c Class, ok bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "from", "sender", "reply-to", "errors-to", "return-path", "return-receipt-to",
		"disposition-notification-to", "mail-followup-to", "resent-from", "resent-sender":
		return HeaderSender, true
	case "to", "cc", "bcc", "apparently-to", "resent-to", "resent-cc", "resent-bcc", "resent-reply-to":
		return HeaderRecipient, true
	}
	return 0, false
}

// HeaderLine rewrites the addresses in the value of header name (the text
// after "Name:", folding included): sender_canonical_maps or
// recipient_canonical_maps, then canonical_maps, then masquerading, each
// when its classes include header_sender or header_recipient. Only the
// addresses change: display names, comments, group syntax, spacing and
// folding are kept. changed reports whether any address changed; if not,
// value is returned as given. Headers of other names, and values that do
// not parse (an unclosed quote, comment or angle bracket), are returned
// unchanged. Postfix applies this only to headers of mail whose headers it
// rewrites (local_header_rewrite_clients); the caller decides that.
func (s *Settings) HeaderLine(name, value string) (out string, changed bool, err error) {
	return rewriteHeader(name, value, s.rewrite)
}

// RemoteHeaderLine returns HeaderLine for mail from clients outside
// local_header_rewrite_clients when remote_header_rewrite_domain is set,
// as Postfix rewrites them: an address without a domain first gets
// "@domain", then the canonical maps and masquerading apply.
func (s *Settings) RemoteHeaderLine(domain string) func(name, value string) (string, bool, error) {
	return func(name, value string) (string, bool, error) {
		return rewriteHeader(name, value, func(addr string, c Class) (string, error) {
			if addr != "" && !strings.Contains(addr, "@") {
				addr += "@" + domain
			}
			return s.rewrite(addr, c)
		})
	}
}

// rewriteHeader rewrites each address in the value of an address header
// with rw, keeping everything else; see HeaderLine.
func rewriteHeader(name, value string, rw func(addr string, c Class) (string, error)) (out string, changed bool, err error) {
	class, ok := HeaderClass(name)
	if !ok {
		return value, false, nil
	}
	toks, ok := tokenize(value)
	if !ok {
		return value, false, nil
	}
	var b strings.Builder
	last := 0
	for _, sp := range findAddresses(toks) {
		addr := value[sp.lo:sp.hi]
		na, err := rw(addr, class)
		if err != nil {
			return value, false, err
		}
		if na == addr {
			continue
		}
		b.WriteString(value[last:sp.lo])
		b.WriteString(na)
		last = sp.hi
		changed = true
	}
	if !changed {
		return value, false, nil
	}
	b.WriteString(value[last:])
	return b.String(), true, nil
}

// tokKind is the kind of a header token.
type tokKind int

const (
	tAtom    tokKind = iota // a run of atom characters, dots included
	tQuoted                 // "quoted string"
	tComment                // (comment), nesting allowed
	tLiteral                // [domain literal]
	tSpace                  // whitespace, folding included
	tSpecial                // one of < > @ , ; :
)

// token is one lexical element of a header value, at value[start:end].
type token struct {
	kind       tokKind
	start, end int
	c          byte // the character of a tSpecial
}

// tokenize splits an address header value into tokens. ok is false when a
// quoted string, comment or domain literal is not closed.
func tokenize(v string) ([]token, bool) {
	var toks []token
	for i := 0; i < len(v); {
		start := i
		var kind tokKind
		switch c := v[i]; {
		case isSpaceByte(c):
			for i < len(v) && isSpaceByte(v[i]) {
				i++
			}
			kind = tSpace
		case c == '"':
			kind, i = tQuoted, closeQuoted(v, i)
		case c == '(':
			kind, i = tComment, commentEnd(v, i)
		case c == '[':
			kind, i = tLiteral, closeLiteral(v, i)
		case strings.IndexByte("<>@,;:", c) >= 0:
			toks = append(toks, token{kind: tSpecial, start: i, end: i + 1, c: c})
			i++
			continue
		case c == ')' || c == ']':
			return nil, false
		default:
			for i < len(v) && !isSpaceByte(v[i]) && strings.IndexByte("\"()[]<>@,;:", v[i]) < 0 {
				i++
			}
			kind = tAtom
		}
		if i < 0 {
			return nil, false
		}
		toks = append(toks, token{kind: kind, start: start, end: i})
	}
	return toks, true
}

// commentEnd returns the index after the comment at v[i], or -1 when it
// does not end.
func commentEnd(v string, i int) int {
	if end, closed := rfc5322.CommentEnd(v, i); closed {
		return end
	}
	return -1
}

// closeQuoted returns the index after the quoted string at v[i], or -1.
func closeQuoted(v string, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// closeLiteral returns the index after the domain literal at v[i], or -1.
func closeLiteral(v string, i int) int {
	for i++; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '[':
			return -1
		case ']':
			return i + 1
		}
	}
	return -1
}

// span is the byte range of one address in a header value.
type span struct{ lo, hi int }

// findAddresses returns the addresses of an address list: elements are
// separated by commas; "name:" opens a group and ";" closes it; in an
// element with "<...>" the address is inside the brackets (after any
// source route), otherwise it is the element without comments. An
// element whose address is interrupted by whitespace or comments, or
// holds unexpected characters, is skipped. An unbalanced angle bracket
// makes the whole value unparseable (no addresses).
func findAddresses(toks []token) []span {
	var out []span
	elem, angle := 0, false
	for i := 0; i <= len(toks); i++ {
		if i < len(toks) {
			t := toks[i]
			if t.kind != tSpecial {
				continue
			}
			switch {
			case t.c == '<' && !angle:
				angle = true
				continue
			case t.c == '>' && angle:
				angle = false
				continue
			case t.c == '<' || t.c == '>':
				return nil
			case angle:
				continue
			case t.c == ':':
				elem = i + 1 // a group's display name
				continue
			case t.c != ',' && t.c != ';':
				continue
			}
		} else if angle {
			return nil
		}
		if sp, ok := elementAddress(toks[elem:i]); ok {
			out = append(out, sp)
		}
		elem = i + 1
	}
	return out
}

// elementAddress finds the address of one element of an address list.
func elementAddress(el []token) (span, bool) {
	for i, t := range el {
		if t.kind == tSpecial && t.c == '<' {
			j := i + 1
			for j < len(el) && !(el[j].kind == tSpecial && el[j].c == '>') {
				j++
			}
			return routeAddress(el[i+1 : j])
		}
	}
	return addressSpan(el)
}

// routeAddress skips a source route ("@a,@b:") inside angle brackets.
func routeAddress(inner []token) (span, bool) {
	for i := len(inner) - 1; i >= 0; i-- {
		if inner[i].kind == tSpecial && inner[i].c == ':' {
			return addressSpan(inner[i+1:])
		}
	}
	return addressSpan(inner)
}

// addressSpan returns the span of the address in toks: the tokens other
// than whitespace and comments, which must be adjacent and consist of
// atoms, quoted strings, domain literals and "@".
func addressSpan(toks []token) (span, bool) {
	first, last := -1, -1
	for i, t := range toks {
		if t.kind != tSpace && t.kind != tComment {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return span{}, false
	}
	for _, t := range toks[first : last+1] {
		switch {
		case t.kind == tSpace, t.kind == tComment:
			return span{}, false
		case t.kind == tSpecial && t.c != '@':
			return span{}, false
		}
	}
	return span{toks[first].start, toks[last].end}, true
}
