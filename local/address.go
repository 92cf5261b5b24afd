package local

import (
	"bufio"
	"io"
	"strings"
)

// splitAddr splits an address at its last "@"; domain is "" for a bare
// local part.
func splitAddr(addr string) (localPart, domain string) {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i], addr[i+1:]
	}
	return addr, ""
}

// isLocalDomain reports whether mail for domain is delivered here: a bare
// local part or a domain listed in mydestination.
func (a *Agent) isLocalDomain(domain string) bool {
	return domain == "" || a.local[strings.ToLower(strings.TrimSuffix(domain, "."))]
}

// unquoteLocal removes the quotes of a quoted local part ("a b" -> a b).
func unquoteLocal(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		var b strings.Builder
		for i := 1; i < len(s)-1; i++ {
			if s[i] == '\\' && i+1 < len(s)-1 {
				i++
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	return s
}

// splitExt splits a lower-case local part at the first recipient delimiter
// character, as Postfix's split_addr: user+ext -> (user, ext, "+"). With
// owner_request_special and "-" among the delimiters, owner-name and
// name-request are never split.
func (a *Agent) splitExt(localPart string) (user, ext, delim string) {
	delims := a.cfg.RecipientDelimiter
	if delims == "" {
		return localPart, "", ""
	}
	if a.cfg.OwnerRequestSpecial && strings.Contains(delims, "-") {
		if strings.HasPrefix(localPart, "owner-") || strings.HasSuffix(localPart, "-request") {
			return localPart, "", ""
		}
	}
	i := strings.IndexAny(localPart, delims)
	if i < 0 {
		return localPart, "", ""
	}
	return localPart[:i], localPart[i+1:], localPart[i : i+1]
}

// addExtension splices an unmatched address extension into addr, as
// Postfix's propagate_unmatched_extensions: bob@x + "ext" -> bob+ext@x.
func (a *Agent) addExtension(addr, ext, delim string) string {
	if ext == "" || delim == "" {
		return addr
	}
	lp, domain := splitAddr(addr)
	if domain == "" && !strings.Contains(addr, "@") {
		return lp + delim + ext
	}
	return lp + delim + ext + "@" + domain
}

// qualify appends @myorigin to a bare local part, as cleanup would.
func (a *Agent) qualify(addr string) string {
	if strings.Contains(addr, "@") || a.cfg.MyOrigin == "" {
		return addr
	}
	return addr + "@" + a.cfg.MyOrigin
}

// maxHeaderScan bounds how much of the content scanDeliveredTo reads.
const maxHeaderScan = 1 << 20

// scanDeliveredTo collects the lower-case values of the Delivered-To
// headers in the message header, and reports whether lines end in CRLF.
func scanDeliveredTo(r io.Reader) (map[string]bool, bool) {
	found := map[string]bool{}
	br := bufio.NewReader(io.LimitReader(r, maxHeaderScan))
	crlf, first := false, true
	for {
		line, err := br.ReadString('\n')
		if first {
			crlf = strings.HasSuffix(line, "\r\n")
			first = false
		}
		text := strings.TrimRight(line, "\r\n")
		if text == "" {
			break
		}
		name, value, ok := strings.Cut(text, ":")
		if ok && strings.EqualFold(strings.TrimSpace(name), "Delivered-To") {
			found[strings.ToLower(strings.TrimSpace(value))] = true
		}
		if err != nil {
			break
		}
	}
	return found, crlf
}

// template variables for forward_path expansion.
type vars map[string]string

// expandTemplate expands Postfix's $name, ${name}, ${name?text} and
// ${name:text} with vars. ok is false when an unconditional reference
// names an empty or unknown variable (the path is then skipped, as Postfix
// does), or on a syntax error. used lists the names expanded to non-empty
// values.
func expandTemplate(tmpl string, v vars) (out string, used map[string]bool, ok bool) {
	var b strings.Builder
	used = map[string]bool{}
	ok = true
	for i := 0; i < len(tmpl); i++ {
		c := tmpl[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 >= len(tmpl) {
			return "", used, false
		}
		if tmpl[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		name, op, text, n := parseRef(tmpl[i+1:])
		if n == 0 {
			return "", used, false
		}
		i += n
		val := v[name]
		switch op {
		case '?':
			if val != "" {
				sub, u, good := expandTemplate(text, v)
				ok = ok && good
				b.WriteString(sub)
				mergeUsed(used, u)
			}
		case ':':
			if val == "" {
				sub, u, good := expandTemplate(text, v)
				ok = ok && good
				b.WriteString(sub)
				mergeUsed(used, u)
			}
		default:
			if val == "" {
				ok = false
			}
			used[name] = val != ""
			b.WriteString(val)
		}
	}
	return b.String(), used, ok
}

func mergeUsed(dst, src map[string]bool) {
	for k, v := range src {
		dst[k] = dst[k] || v
	}
}

// parseRef parses the reference after a "$": a name, or {name}, or
// {name?text} / {name:text}. n is the number of bytes consumed, 0 on a
// syntax error.
func parseRef(s string) (name string, op byte, text string, n int) {
	isName := func(c byte) bool {
		return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if s[0] != '{' && s[0] != '(' {
		j := 0
		for j < len(s) && isName(s[j]) {
			j++
		}
		return s[:j], 0, "", j
	}
	closer := byte('}')
	if s[0] == '(' {
		closer = ')'
	}
	j := 1
	for j < len(s) && isName(s[j]) {
		j++
	}
	if j == 1 || j >= len(s) {
		return "", 0, "", 0
	}
	name = s[1:j]
	if s[j] == closer {
		return name, 0, "", j + 1
	}
	if s[j] != '?' && s[j] != ':' {
		return "", 0, "", 0
	}
	op = s[j]
	depth := 0
	for k := j + 1; k < len(s); k++ {
		switch s[k] {
		case '{', '(':
			depth++
		case '}', ')':
			if depth == 0 {
				if s[k] != closer {
					return "", 0, "", 0
				}
				return name, op, s[j+1 : k], k + 1
			}
			depth--
		}
	}
	return "", 0, "", 0
}
