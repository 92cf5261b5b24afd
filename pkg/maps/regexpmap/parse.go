package regexpmap

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// parser turns logical lines into rules.
type parser struct {
	file  string
	pcre  bool
	rules []rule
	open  tablefile.IfStack // IF rules still waiting for ENDIF
}

// pattern is a "/regexp/flags" pattern as written in the table.
type pattern struct {
	src   string // the text between the delimiters
	flags string
	match bool // false when negated with '!'
}

// errorf returns an error that names the file and line.
func (p *parser) errorf(line int, format string, args ...any) error {
	return tablefile.Errorf(p.file, line, format, args...)
}

// parseLine compiles one logical line.
func (p *parser) parseLine(l tablefile.Line) error {
	text := strings.TrimRight(l.Text, spaces)
	switch {
	case tablefile.IsKeyword(text, "if"):
		return p.parseIf(text[2:], l.Number)
	case tablefile.IsKeyword(text, "endif"):
		return p.parseEndif(text[5:], l.Number)
	case tablefile.IsAlnum(text[0]):
		return p.errorf(l.Number, "unrecognized request %q: expected /pattern/, !/pattern/, IF or ENDIF", clip(text))
	}
	pat, rest, err := getPattern(text)
	if err != nil {
		return p.errorf(l.Number, "%v", err)
	}
	re, err := p.compile(pat)
	if err != nil {
		return p.errorf(l.Number, "%v", err)
	}
	segs, high, err := parseResult(strings.TrimLeft(rest, spaces))
	if err != nil {
		return p.errorf(l.Number, "%v", err)
	}
	if high > 0 && !pat.match {
		return p.errorf(l.Number, "$number found in negative match replacement text")
	}
	if n := re.NumSubexp(); high > n {
		return p.errorf(l.Number, "out-of-range replacement index \"%d\": the pattern has %d group(s)", high, n)
	}
	p.rules = append(p.rules, rule{kind: kindMatch, re: re, match: pat.match, result: segs, subst: high > 0})
	return nil
}

// parseIf compiles "if /pattern/flags"; rest follows the keyword.
func (p *parser) parseIf(rest string, line int) error {
	pat, extra, err := getPattern(rest)
	if err != nil {
		return p.errorf(line, "IF: %v", err)
	}
	if extra = strings.TrimLeft(extra, spaces); extra != "" {
		return p.errorf(line, "extra text after IF statement: %q", clip(extra))
	}
	re, err := p.compile(pat)
	if err != nil {
		return p.errorf(line, "%v", err)
	}
	p.open.Push(len(p.rules), line)
	p.rules = append(p.rules, rule{kind: kindIf, re: re, match: pat.match})
	return nil
}

// parseEndif closes the innermost IF; rest follows the keyword.
func (p *parser) parseEndif(rest string, line int) error {
	if rest = strings.TrimLeft(rest, spaces); rest != "" {
		return p.errorf(line, "extra text after ENDIF: %q", clip(rest))
	}
	top, ok := p.open.Pop()
	if !ok {
		return p.errorf(line, "ENDIF without matching IF")
	}
	p.rules[top].end = len(p.rules)
	p.rules = append(p.rules, rule{kind: kindEndif})
	return nil
}

// getPattern reads "[!...]/regexp/flags" from the start of s and returns
// it with the text that follows. Any character may serve as delimiter; a
// backslash escapes the delimiter inside the pattern.
func getPattern(s string) (pattern, string, error) {
	pat := pattern{match: true}
	i := 0
	for ; i < len(s); i++ {
		if s[i] == '!' {
			pat.match = !pat.match
		} else if !isSpace(s[i]) {
			break
		}
	}
	if i == len(s) {
		return pat, "", fmt.Errorf("no regexp")
	}
	delim, size := utf8.DecodeRuneInString(s[i:])
	src, end, ok := scanDelimited(s[i+size:], delim)
	if !ok {
		return pat, "", fmt.Errorf("no closing regexp delimiter \"%c\"", delim)
	}
	pat.src = src
	rest := s[i+size+end:]
	j := 0
	for j < len(rest) && !isSpace(rest[j]) {
		j++
	}
	pat.flags = rest[:j]
	return pat, rest[j:], nil
}

// scanDelimited finds the delimiter that ends a pattern and returns the
// pattern text and the offset just past the delimiter. A backslash before the
// delimiter is dropped unless the delimiter is ASCII punctuation, which
// Go's syntax lets stay escaped.
func scanDelimited(s string, delim rune) (string, int, bool) {
	keepEscape := delim < utf8.RuneSelf && !tablefile.IsAlnum(byte(delim))
	var b strings.Builder
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == delim:
			return b.String(), i + size, true
		case c == '\\' && i+1 < len(s):
			n, nsize := utf8.DecodeRuneInString(s[i+1:])
			if n != delim || keepEscape {
				b.WriteByte('\\')
			}
			b.WriteString(s[i+1 : i+1+nsize])
			i += 1 + nsize
			continue
		case c == '\\':
			return "", 0, false
		}
		b.WriteString(s[i : i+size])
		i += size
	}
	return "", 0, false
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// compile turns a pattern into a Go regexp with the table's semantics.
func (p *parser) compile(pat pattern) (*regexp.Regexp, error) {
	if p.pcre {
		return compilePCRE(pat)
	}
	return compileRegexp(pat)
}

// compileRegexp compiles a regexp_table(5) pattern: POSIX extended syntax,
// leftmost-longest matching, case-insensitive unless flag i toggles it.
func compileRegexp(pat pattern) (*regexp.Regexp, error) {
	icase, multiline, extended := true, false, true
	for _, f := range pat.flags {
		switch f {
		case 'i':
			icase = !icase
		case 'm':
			multiline = !multiline
		case 'x':
			extended = !extended
		default:
			return nil, fmt.Errorf("unknown regexp option \"%c\"", f)
		}
	}
	if !extended {
		return nil, fmt.Errorf("POSIX basic regular expressions (flag \"x\" turned off) are not supported: tern accepts extended syntax only; remove the \"x\" flag")
	}
	if err := checkSyntax(pat.src, false); err != nil {
		return nil, err
	}
	// Without REG_NEWLINE, POSIX "." matches a newline; with it ("m"),
	// "^" and "$" also match at line boundaries.
	mode := "s"
	if multiline {
		mode = "m"
	}
	if icase {
		mode += "i"
	}
	re, err := compileChecked(pat.src, "(?"+mode+")", false, pat.src)
	if err != nil {
		return nil, err
	}
	re.Longest()
	return re, nil
}

// pcreFlags holds the pcre_table(5) pattern flags.
type pcreFlags struct {
	icase, multiline, dotall, extended, anchored, ungreedy bool
}

// parsePCREFlags reads the flags after a pcre pattern. Each flag toggles
// its option; case-insensitive matching is on by default.
func parsePCREFlags(flags string) (pcreFlags, error) {
	fl := pcreFlags{icase: true}
	for _, f := range flags {
		switch f {
		case 'i':
			fl.icase = !fl.icase
		case 'm':
			fl.multiline = !fl.multiline
		case 's':
			fl.dotall = !fl.dotall
		case 'x':
			fl.extended = !fl.extended
		case 'A':
			fl.anchored = !fl.anchored
		case 'E':
			// "$" already matches only at the very end in Go's syntax.
		case 'U':
			fl.ungreedy = !fl.ungreedy
		case 'X':
			return fl, fmt.Errorf("pcre option \"X\" (PCRE_EXTRA) is not supported: tern uses Go's RE2 syntax, which already rejects unknown escapes")
		default:
			return fl, fmt.Errorf("unknown regexp option \"%c\"", f)
		}
	}
	return fl, nil
}

// compilePCRE compiles a pcre_table(5) pattern: Perl syntax as far as
// RE2 supports it, leftmost-first matching.
func compilePCRE(pat pattern) (*regexp.Regexp, error) {
	fl, err := parsePCREFlags(pat.flags)
	if err != nil {
		return nil, err
	}
	src := pat.src
	if fl.extended {
		src = stripExtended(src)
	}
	if err := checkSyntax(src, true); err != nil {
		return nil, err
	}
	mode := ""
	for _, m := range []struct {
		on   bool
		flag string
	}{{fl.icase, "i"}, {fl.multiline, "m"}, {fl.dotall, "s"}, {fl.ungreedy, "U"}} {
		if m.on {
			mode += m.flag
		}
	}
	if mode != "" {
		mode = "(?" + mode + ")"
	}
	return compileChecked(src, mode, fl.anchored, pat.src)
}

// compileChecked compiles src alone, so that errors quote the table's own
// text and no prefix or wrapping can turn an invalid pattern into a valid
// one, and then compiles it behind the flag prefix mode, anchored at the
// start of the key if asked.
func compileChecked(src, mode string, anchored bool, orig string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(src); err != nil {
		return nil, fmt.Errorf("regexp %q: %w", orig, err)
	}
	if anchored {
		src = `\A(?:` + src + `)`
	}
	re, err := regexp.Compile(mode + src)
	if err != nil {
		return nil, fmt.Errorf("regexp %q: %w", orig, err)
	}
	return re, nil
}
