package smtpd

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/reply"
)

// command is one SMTP command line: the verb in upper case and the rest.
type command struct {
	verb string
	arg  string
}

// parseCommand splits a command line (without its line ending) into verb
// and argument, as RFC 5321 section 4.1.1 writes them: the verb, a space,
// the argument. Extra white space around the argument is forgiven, as
// Postfix forgives it.
func parseCommand(line string) command {
	line = strings.TrimLeft(line, " \t")
	verb, arg, _ := strings.Cut(line, " ")
	if i := strings.IndexByte(verb, '\t'); i >= 0 {
		verb, arg = verb[:i], verb[i+1:]+" "+arg
	}
	return command{verb: strings.ToUpper(verb), arg: strings.Trim(arg, " \t")}
}

// param is one ESMTP MAIL or RCPT parameter (RFC 5321 section 4.1.2).
type param struct {
	key   string // upper case
	value string // "" when the parameter has no value
	has   bool   // "KEY=" or "KEY=value" rather than "KEY"
}

// pathArg splits the argument of MAIL or RCPT after its "FROM:" or "TO:"
// into the address and its parameters. The address may be in angle
// brackets (with quoted local parts that hold spaces or '>') or, as
// Postfix allows with strict_rfc821_envelopes = no, bare. ok is false for
// a missing prefix or an unterminated path.
func pathArg(arg, prefix string) (addr string, params []param, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " \t")
	var tail string
	if strings.HasPrefix(rest, "<") {
		end := closingBracket(rest)
		if end < 0 {
			return "", nil, false
		}
		addr, tail = rest[1:end], rest[end+1:]
	} else {
		addr, tail, _ = strings.Cut(rest, " ")
		if addr == "" {
			return "", nil, false
		}
	}
	for _, f := range strings.Fields(tail) {
		k, v, has := strings.Cut(f, "=")
		params = append(params, param{key: strings.ToUpper(k), value: v, has: has})
	}
	return addr, params, true
}

// bracketed reports whether the path after prefix in arg is in angle
// brackets, as strict_rfc821_envelopes demands.
func bracketed(arg, prefix string) bool {
	return len(arg) >= len(prefix) && strings.HasPrefix(strings.TrimLeft(arg[len(prefix):], " \t"), "<")
}

// closingBracket returns the index of the '>' that closes the path opened
// at s[0], skipping quoted strings and quoted pairs, or -1.
func closingBracket(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '>' && !quoted:
			return i
		}
	}
	return -1
}

// Address syntax problems, as the replies name them.
const (
	addrOK = iota
	addrBadSyntax
	addrNeedsUTF8
)

// cleanPath checks an address from MAIL or RCPT and returns it in the
// form tern queues: a source route (RFC 5321 section 4.1.1.3, "@a,@b:u@d")
// is dropped, as Postfix drops it, so the route never decides where mail
// goes; a quoted local part keeps its quotes only where they are needed.
// Control characters, a NUL byte, or invalid UTF-8 are bad syntax;
// non-ASCII needs SMTPUTF8 (RFC 6531 section 3.4).
func cleanPath(addr string, smtputf8 bool) (string, int) {
	if !utf8.ValidString(addr) {
		return "", addrBadSyntax
	}
	for _, c := range addr {
		if c < ' ' || c == 0x7f {
			return "", addrBadSyntax
		}
	}
	if strings.HasPrefix(addr, "@") {
		colon := strings.IndexByte(addr, ':')
		if colon < 0 {
			return "", addrBadSyntax
		}
		addr = addr[colon+1:]
	}
	local, domain := splitAddress(addr)
	if strings.HasPrefix(local, "\"") {
		unq, ok := unquoteLocal(local)
		if !ok {
			return "", addrBadSyntax
		}
		local = unq
		if needsQuotes(local) {
			local = quoteLocal(local)
		}
	}
	if strings.ContainsAny(domain, " \t\"") || strings.Contains(addr, " ") && !strings.HasPrefix(local, "\"") {
		return "", addrBadSyntax
	}
	out := local
	if domain != "" || strings.HasSuffix(addr, "@") {
		out += "@" + domain
	}
	if !smtputf8 && !isASCII(out) {
		return "", addrNeedsUTF8
	}
	return out, addrOK
}

// splitAddress splits at the last '@' outside a quoted local part.
func splitAddress(addr string) (local, domain string) {
	quoted := false
	at := -1
	for i := 0; i < len(addr); i++ {
		switch c := addr[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '@' && !quoted:
			at = i
		}
	}
	if at < 0 {
		return addr, ""
	}
	return addr[:at], addr[at+1:]
}

func unquoteLocal(s string) (string, bool) {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if c == '\\' {
			i++
			if i >= len(s)-1 {
				return "", false
			}
			c = s[i]
		} else if c == '"' {
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// needsQuotes reports whether a local part is not a dot-atom (RFC 5322
// section 3.2.3).
func needsQuotes(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return true
	}
	for _, c := range s {
		if c < 0x80 && !isAtext(byte(c)) && c != '.' {
			return true
		}
	}
	return false
}

func isAtext(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func quoteLocal(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// decodeXtext decodes RFC 3461 section 4 xtext ("+2B" is '+'). ok is false
// for a malformed escape or a character xtext does not allow.
func decodeXtext(s string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+':
			if i+2 >= len(s) {
				return "", false
			}
			// RFC 3461 section 4: two upper-case hexadecimal digits.
			n, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil || s[i+1] >= 'a' || s[i+2] >= 'a' {
				return "", false
			}
			b.WriteByte(byte(n))
			i += 2
		case c < '!' || c > '~' || c == '=':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// decodeUTF8AddrXtext decodes the utf-8 address type of RFC 6533 section
// 3: UTF-8 text in which "\x{HEX}" stands for a character; '+', '=',
// controls and invalid UTF-8 are refused.
func decodeUTF8AddrXtext(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case strings.HasPrefix(s[i:], "\\x{"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return "", false
			}
			n, err := strconv.ParseUint(s[i+3:i+end], 16, 32)
			if err != nil || end-3 < 2 || end-3 > 6 || !utf8.ValidRune(rune(n)) {
				return "", false
			}
			b.WriteRune(rune(n))
			i += end
		case c < '!' || c == 0x7f || c == '+' || c == '=' || c == '\\':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

// sizeParam parses the value of SIZE= (RFC 1870): a decimal count.
func sizeParam(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

// Replies about command syntax, worded as Postfix words them.
var (
	replyNotRecognized = reply.New(reply.CodeNotImplemented, reply.StatusSyntax, "Error: command not recognized")
	replyLineTooLong   = reply.New(reply.CodeSyntax, reply.StatusSyntax, "Error: line too long")
	replyBadSyntax     = reply.New(reply.CodeSyntax, reply.StatusSyntax, "Error: bad syntax")
	// replySASLResponseTooLong answers an AUTH response longer than
	// smtpd_sasl_response_limit.
	replySASLResponseTooLong = reply.New(reply.CodeSyntax, reply.StatusAuthLineTooLong, "SASL response limit exceeded")
)

// filterCommand applies smtpd_command_filter to a command line: the
// first table with an entry for the line gives its replacement, as in
// Postfix (for instance a pcre: table that repairs a broken client's
// commands). A table failure leaves the line as it is, with a warning.
func (s *session) filterCommand(line string) string {
	tables := s.srv.set.commandFilter
	if len(tables) == 0 {
		return line
	}
	v, found, err := maps.LookupFirst(tables, line)
	switch {
	case err != nil:
		s.srv.log.Warnf("smtpd_command_filter: %v", err)
	case found && v != line:
		s.srv.log.Infof("replacing command %q with %q", clipCommand(line), clipCommand(v))
		return v
	}
	return line
}

// clipCommand shortens a command for the log.
func clipCommand(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
