package message

import "strings"

// token kinds of an address list.
const (
	tWord    = iota // atom, quoted string or domain literal
	tSpecial        // one of < > @ , ; : .
)

type token struct {
	kind  int
	text  string
	space bool // white space or a comment came before it
}

// tokenize splits an address list into words and specials, dropping white
// space and (nested) comments. Unterminated quoted strings, comments and
// domain literals run to the end of the input.
func tokenize(s string) []token {
	var toks []token
	space := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ')':
			space = true
			i++
			continue
		case c == '(':
			i = skipComment(s, i)
			space = true
			continue
		case c == '"':
			j := scanQuoted(s, i, '"')
			toks = append(toks, token{tWord, s[i:j], space})
			i = j
		case c == '[':
			j := scanQuoted(s, i, ']')
			toks = append(toks, token{tWord, s[i:j], space})
			i = j
		case strings.IndexByte("<>@,;:.", c) >= 0:
			toks = append(toks, token{tSpecial, s[i : i+1], space})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte("<>@,;:.()\"[ \t\r\n", s[j]) < 0 {
				j++
			}
			if j == i {
				j++ // never stall on an unexpected character
			}
			toks = append(toks, token{tWord, s[i:j], space})
			i = j
		}
		space = false
	}
	return toks
}

// skipComment returns the index after the comment that starts at s[i].
func skipComment(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(s)
}

// scanQuoted returns the index after the quoted string or domain literal
// that starts at s[i] and ends with end.
func scanQuoted(s string, i int, end byte) int {
	for i++; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case end:
			return i + 1
		}
	}
	return len(s)
}

// ParseAddressList returns the addr-specs of an RFC 5322 address list
// (a To, Cc or Bcc value), leniently: display names, comments, group names
// and source routes are dropped; groups contribute their members; empty
// entries and "<>" are skipped. A quoted local part keeps its quotes, so
// that each result can be written back as is. Without angle brackets, an
// entry made of several space-separated words yields the last run of words
// that contains "@" (or the last run), so "John Doe jd@example.com" gives
// "jd@example.com".
func ParseAddressList(v string) []string {
	var out []string
	var elem []token
	angle := -1 // index in elem after the last "<", or -1
	inAngle := false
	flush := func() {
		if a := addrOf(elem, angle); a != "" {
			out = append(out, a)
		}
		elem, angle, inAngle = elem[:0], -1, false
	}
	for _, t := range tokenize(v) {
		if t.kind == tSpecial {
			switch {
			case t.text == "<" && !inAngle:
				elem = elem[:0] // drop the display name
				angle, inAngle = 0, true
				continue
			case t.text == ">" && inAngle:
				inAngle = false
				continue
			case inAngle:
			case t.text == "," || t.text == ";":
				flush()
				continue
			case t.text == ":":
				elem = elem[:0] // a group name
				continue
			}
		}
		if angle >= 0 && !inAngle {
			continue // text after <addr> before the next comma
		}
		elem = append(elem, t)
	}
	flush()
	return out
}

// addrOf joins the tokens of one address. In angle brackets, a source
// route ("@a,@b:") is removed.
func addrOf(elem []token, angle int) string {
	if angle >= 0 {
		for i := len(elem) - 1; i >= 0; i-- {
			if elem[i].kind == tSpecial && elem[i].text == ":" {
				elem = elem[i+1:]
				break
			}
		}
		return join(elem)
	}
	// Split into runs of tokens separated by white space between words.
	var runs [][]token
	start := 0
	for i := 1; i < len(elem); i++ {
		if elem[i].space && elem[i].kind == tWord && elem[i-1].kind == tWord {
			runs = append(runs, elem[start:i])
			start = i
		}
	}
	if start < len(elem) {
		runs = append(runs, elem[start:])
	}
	for i := len(runs) - 1; i >= 0; i-- {
		for _, t := range runs[i] {
			if t.text == "@" {
				return join(runs[i])
			}
		}
	}
	if len(runs) == 0 {
		return ""
	}
	return join(runs[len(runs)-1])
}

func join(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		if t.kind == tSpecial && strings.Contains(",;<>", t.text) {
			continue
		}
		b.WriteString(t.text)
	}
	return b.String()
}
