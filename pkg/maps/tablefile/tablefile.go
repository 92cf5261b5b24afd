// Package tablefile reads the line structure shared by Postfix's pattern
// tables (regexp_table(5), pcre_table(5), cidr_table(5)).
package tablefile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Spaces are the characters Postfix's ISSPACE accepts.
const Spaces = " \t\n\v\f\r"

// Line is one logical line of a table file: a line that starts with
// non-whitespace text plus the continuation lines that follow it.
type Line struct {
	Text   string
	Number int // number of the first physical line
}

// Read splits r into logical lines as Postfix's readllines()
// does: blank lines and lines whose first non-whitespace character is '#'
// are skipped, and a line that starts with whitespace continues the
// previous logical line.
func Read(file string, r io.Reader) ([]Line, error) {
	br := bufio.NewReader(r)
	var (
		out  []Line
		cur  strings.Builder // text of the logical line being read
		from int             // its first line number, 0 when none
	)
	flush := func() {
		if from > 0 {
			out = append(out, Line{Text: cur.String(), Number: from})
		}
		cur.Reset()
	}
	for n := 1; ; n++ {
		s, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		s = strings.TrimSuffix(s, "\n")
		trimmed := strings.TrimLeft(s, Spaces)
		switch {
		case trimmed == "" || trimmed[0] == '#':
			// blank line or comment
		case len(trimmed) == len(s):
			flush()
			cur.WriteString(s)
			from = n
		case from == 0:
			return nil, fmt.Errorf("%s:%d: logical line must not start with whitespace", file, n)
		default:
			cur.WriteString(s)
		}
		if err == io.EOF {
			flush()
			return out, nil
		}
	}
}

// IfStack tracks the IF blocks of a pattern table that wait for their
// ENDIF: each entry is the index of the IF rule and its line number.
type IfStack struct {
	rules []int
	lines []int
}

// Push opens an IF block at rule index rule, written on line.
func (s *IfStack) Push(rule, line int) {
	s.rules = append(s.rules, rule)
	s.lines = append(s.lines, line)
}

// Pop closes the innermost IF block and returns its rule index; ok is
// false when no block is open ("ENDIF without matching IF").
func (s *IfStack) Pop() (rule int, ok bool) {
	top := len(s.rules) - 1
	if top < 0 {
		return 0, false
	}
	rule = s.rules[top]
	s.rules, s.lines = s.rules[:top], s.lines[:top]
	return rule, true
}

// Unclosed returns the line of the innermost IF still open at the end of
// the file; ok is false when every IF has its ENDIF.
func (s *IfStack) Unclosed() (line int, ok bool) {
	if len(s.lines) == 0 {
		return 0, false
	}
	return s.lines[len(s.lines)-1], true
}

// Parse reads the logical lines of file from r, hands each to parseLine,
// and reports an IF that open still holds at the end.
func Parse(file string, r io.Reader, open *IfStack, parseLine func(Line) error) error {
	lines, err := Read(file, r)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if err := parseLine(l); err != nil {
			return err
		}
	}
	if line, ok := open.Unclosed(); ok {
		return Errorf(file, line, "IF has no matching ENDIF")
	}
	return nil
}

// Errorf returns an error that names the file and line, "FILE:LINE: ...".
func Errorf(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", file, line, fmt.Sprintf(format, args...))
}

// IsKeyword reports whether s starts with the keyword kw (any case) not
// followed by a letter or digit, as Postfix tests for IF and ENDIF.
func IsKeyword(s, kw string) bool {
	if len(s) < len(kw) || !strings.EqualFold(s[:len(kw)], kw) {
		return false
	}
	return len(s) == len(kw) || !IsAlnum(s[len(kw)])
}

// IsAlnum reports whether c is an ASCII letter or digit.
func IsAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// ListPattern splits a match list element into its pattern and whether
// it is an exclusion: each leading "!" inverts the match.
func ListPattern(elem string) (pattern string, negate bool) {
	pattern = strings.TrimSpace(elem)
	for strings.HasPrefix(pattern, "!") {
		negate = !negate
		pattern = strings.TrimSpace(pattern[1:])
	}
	return pattern, negate
}

// MaxListDepth bounds "/file/name" elements inside the files of a match
// list, so that a file that names itself is an error, not a loop.
const MaxListDepth = 5

// ListFile reads a "/file/name" element of a Postfix match list (a
// domain list such as mydestination, a network list such as mynetworks):
// the file's words, separated by white space or commas, with "#" starting
// a comment that runs to the end of the line.
func ListFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	var words []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		words = append(words, strings.FieldsFunc(line, func(r rune) bool {
			return r == ',' || strings.ContainsRune(Spaces, r)
		})...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return words, nil
}
