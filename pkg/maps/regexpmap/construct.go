package regexpmap

import (
	"fmt"
	"strings"
)

// groupConstructs are the "(..." openings that RE2 cannot run, longest
// first where one is a prefix of another.
var groupConstructs = []struct{ text, what string }{
	{"(?<=", "lookbehind"},
	{"(?<!", "negative lookbehind"},
	{"(?=", "lookahead"},
	{"(?!", "negative lookahead"},
	{"(?>", "atomic group"},
	{"(?R)", "recursion"},
	{"(?(", "conditional"},
	{"(?&", "subroutine call"},
	{"(?P>", "subroutine call"},
	{"(?P=", "named backreference"},
	{"(?|", "branch reset group"},
	{"(*", "backtracking control verb"},
}

// escapeConstructs are the backslash escapes that RE2 cannot run.
var escapeConstructs = map[byte]string{
	'g': "backreference or subroutine call",
	'k': "named backreference",
	'K': "match start reset",
	'G': "start-of-match anchor",
}

// unsupportedError names a construct the table uses that RE2 lacks.
func unsupportedError(pcre bool, text, what string) error {
	return fmt.Errorf("%s construct \"%s\" (%s) is not supported: tern uses Go's RE2 syntax", flavor(pcre), text, what)
}

// checkSyntax looks for Perl and GNU constructs that Go's RE2 engine does
// not have, so that the error names the construct instead of leaving Go's
// parser to complain about it. Possessive quantifiers are only looked for
// in pcre patterns; in POSIX syntax "a*+" means something else, which Go
// rejects on its own.
func checkSyntax(src string, pcre bool) error {
	afterQuant := false // the previous token was a quantifier
	for i := 0; i < len(src); {
		c := src[i]
		quant := false
		next := i + 1
		switch {
		case c == '\\':
			if err := checkEscape(src, i, pcre); err != nil {
				return err
			}
			next = skipEscape(src, i)
		case c == '[':
			next = skipClass(src, i)
		case c == '(':
			if err := checkGroup(src[i:], pcre); err != nil {
				return err
			}
			if strings.HasPrefix(src[i:], "(?") {
				next = i + 2
			}
		case c == '*' || c == '+' || c == '?':
			if afterQuant && c == '+' && pcre {
				return unsupportedError(pcre, possessiveText(src, i), "possessive quantifier")
			}
			quant = !(afterQuant && c == '?') // "??", "*?": lazy, not a new quantifier
		case c == '{':
			if n := braceQuantifier(src[i:]); n > 0 {
				next, quant = i+n, true
			}
		}
		afterQuant = quant
		i = next
	}
	return nil
}

// checkEscape reports an unsupported backslash escape at src[i].
func checkEscape(src string, i int, pcre bool) error {
	if i+1 >= len(src) {
		return nil
	}
	n := src[i+1]
	if n >= '1' && n <= '9' {
		return unsupportedError(pcre, src[i:i+2], "backreference")
	}
	if what, ok := escapeConstructs[n]; ok {
		return unsupportedError(pcre, src[i:i+2], what)
	}
	if !pcre && (n == '<' || n == '>') {
		return unsupportedError(pcre, src[i:i+2], "GNU word boundary; use \\b")
	}
	return nil
}

// checkGroup reports an unsupported group opening at the start of s.
func checkGroup(s string, pcre bool) error {
	for _, g := range groupConstructs {
		if strings.HasPrefix(s, g.text) {
			return unsupportedError(pcre, g.text, g.what)
		}
	}
	// (?1), (?+1), (?-1): calls of numbered groups; (?-i) is a flag.
	if len(s) > 2 && s[1] == '?' {
		j := 2
		if s[j] == '+' || s[j] == '-' {
			j++
		}
		if j < len(s) && s[j] >= '0' && s[j] <= '9' {
			return unsupportedError(pcre, s[:j+1], "subroutine call")
		}
	}
	return nil
}

// possessiveText returns the quantifier ending at the '+' at src[i], for
// the error message.
func possessiveText(src string, i int) string {
	start := i - 1
	if src[start] == '}' {
		start = strings.LastIndexByte(src[:i], '{')
	}
	return src[start : i+1]
}

// braceQuantifier returns the length of a "{n}", "{n,}" or "{n,m}"
// quantifier at the start of s, or 0 when the brace is a literal.
func braceQuantifier(s string) int {
	j := 1
	digits := func() int {
		k := j
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j - k
	}
	if digits() == 0 {
		return 0
	}
	if j < len(s) && s[j] == ',' {
		j++
		digits()
	}
	if j < len(s) && s[j] == '}' {
		return j + 1
	}
	return 0
}

// skipEscape returns the index after the escape sequence at src[i]; a
// \Q...\E quotation counts as one escape.
func skipEscape(src string, i int) int {
	if i+1 >= len(src) {
		return len(src)
	}
	if src[i+1] != 'Q' {
		return i + 2
	}
	end := strings.Index(src[i+2:], `\E`)
	if end < 0 {
		return len(src)
	}
	return i + 2 + end + 2
}

// skipClass returns the index after the bracket expression that starts
// at src[i]. A ']' right after "[" or "[^" is a literal, "[:name:]" is a
// named class, and a backslash escapes the next character.
func skipClass(src string, i int) int {
	j := i + 1
	if j < len(src) && src[j] == '^' {
		j++
	}
	if j < len(src) && src[j] == ']' {
		j++
	}
	for j < len(src) {
		switch {
		case src[j] == '\\':
			j += 2
		case strings.HasPrefix(src[j:], "[:"):
			if end := strings.Index(src[j+2:], ":]"); end >= 0 {
				j += 2 + end + 2
			} else {
				j++
			}
		case src[j] == ']':
			return j + 1
		default:
			j++
		}
	}
	return len(src)
}

// stripExtended removes the whitespace and "#" comments that PCRE's
// extended mode (flag x) ignores, since Go's syntax has no such mode.
// Escaped characters, bracket expressions and \Q...\E stay as written.
func stripExtended(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); {
		c := src[i]
		next := i + 1
		switch {
		case c == '\\':
			next = skipEscape(src, i)
		case c == '[':
			next = skipClass(src, i)
		case isSpace(c):
			i = next
			continue
		case c == '#':
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				return b.String()
			}
			i += end + 1
			continue
		}
		b.WriteString(src[i:min(next, len(src))])
		i = next
	}
	return b.String()
}
