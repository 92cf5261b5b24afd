package sendmail

import (
	"strings"

	"github.com/tern-mta/tern/pkg/rfc5322"
)

// Address lists are parsed the way Postfix's tok822 parser treats a
// recipient argument or a To: header: leniently. net/mail is not used
// because it refuses what local mail is full of: bare login names
// ("To: root"), unbalanced quotes, trailing commas.

// tokKind classifies an address token.
type tokKind byte

const (
	tokAtom    tokKind = 'a' // run of ordinary characters
	tokQuoted  tokKind = 'q' // "quoted string", text without quotes
	tokLiteral tokKind = 'd' // [domain literal], text with brackets
)

// token is one lexical element; specials (< > , : ; @ .) have their own
// character as kind.
type token struct {
	kind  tokKind
	text  string
	space bool // preceded by white space or a comment
}

func isWord(t token) bool { return t.kind == tokAtom || t.kind == tokQuoted || t.kind == tokLiteral }

const addrSpecials = "<>,:;@."

// tokenize splits s into tokens, dropping white space and comments.
func tokenize(s string) []token {
	var toks []token
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			space = true
			i++
			continue
		case c == '(':
			i, _ = rfc5322.CommentEnd(s, i) // an open comment runs to the end
			space = true
			continue
		case c == '"':
			text, n := scanQuoted(s, i)
			toks = append(toks, token{kind: tokQuoted, text: text, space: space})
			i = n
		case c == '[':
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				end = len(s) - i - 1
			}
			toks = append(toks, token{kind: tokLiteral, text: dropLineBreaks(s[i : i+end+1]), space: space})
			i += end + 1
		case strings.IndexByte(addrSpecials, c) >= 0:
			toks = append(toks, token{kind: tokKind(c), text: string(c), space: space})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n(\"[<>,:;@.", rune(s[j])) {
				j++
			}
			toks = append(toks, token{kind: tokAtom, text: s[i:j], space: space})
			i = j
		}
		space = false
	}
	return toks
}

// scanQuoted returns the unescaped text of the quoted string at s[i] and
// the index after it; an unclosed string runs to the end.
func scanQuoted(s string, i int) (string, int) {
	var b strings.Builder
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				if s[i] != '\r' && s[i] != '\n' {
					b.WriteByte(s[i])
				}
			}
		case '"':
			return b.String(), i + 1
		case '\r', '\n':
			// folding inside a quoted string is not part of it
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), len(s)
}

// dropLineBreaks removes CR and LF, which never belong in an address.
func dropLineBreaks(s string) string {
	return strings.NewReplacer("\r", "", "\n", "").Replace(s)
}

// parseAddressList returns the addresses in s, in order: the part inside
// <> when there is one (without a source route), else the words of the
// element. A group's display name is dropped. "<>" yields "".
func parseAddressList(s string) []string {
	var (
		out      []string
		seg      []token // tokens outside <> of the current element
		angle    []token // tokens inside the last <>
		hasAngle bool
		inAngle  bool
	)
	flush := func() {
		switch {
		case hasAngle:
			out = append(out, joinTokens(stripRoute(angle)))
		case len(seg) > 0:
			out = append(out, joinTokens(seg))
		}
		seg, angle, hasAngle, inAngle = nil, nil, false, false
	}
	for _, t := range tokenize(s) {
		switch {
		case inAngle && t.kind == '>':
			inAngle = false
		case inAngle:
			angle = append(angle, t)
		case t.kind == '<':
			inAngle, hasAngle, angle = true, true, nil
		case t.kind == ',' || t.kind == ';':
			flush()
		case t.kind == ':':
			seg = nil // group display name
		case t.kind == '>':
			// stray: ignore
		default:
			seg = append(seg, t)
		}
	}
	flush()
	return out
}

// stripRoute drops an RFC 821 source route (@a,@b:) from an angle address.
func stripRoute(toks []token) []token {
	for i := len(toks) - 1; i >= 0; i-- {
		if toks[i].kind == ':' {
			return toks[i+1:]
		}
	}
	return toks
}

// joinTokens renders tokens as an address in internal (unquoted) form;
// words that were separated by space stay separated by one space.
func joinTokens(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.space && isWord(t) && isWord(toks[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteString(t.text)
	}
	return b.String()
}

// recipientsOf returns the non-empty addresses of each argument, as Postfix
// parses a command-line recipient: like a header, so "a, b" and
// "Name <a@b>" work.
func recipientsOf(args []string) []string {
	var out []string
	for _, a := range args {
		for _, addr := range parseAddressList(a) {
			if addr != "" {
				out = append(out, addr)
			}
		}
	}
	return out
}

// senderOf returns the sender address of a -f value ("" for "<>" or an
// empty value) and whether the value held more than one address.
func senderOf(v string) (addr string, malformed bool) {
	list := parseAddressList(v)
	if len(list) == 0 {
		return "", false
	}
	return list[0], len(list) > 1
}
