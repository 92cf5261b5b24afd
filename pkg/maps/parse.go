package maps

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Entry is one record of a lookup table source file.
type Entry struct {
	Key   string // as written (after unquoting), not yet folded
	Value string // surrounding whitespace removed
	Line  int    // first line of the logical line, 0 when not from a file
}

// whitespace is the set of characters that separate and surround fields.
const whitespace = " \t\r\n\v\f"

func isSpace(c byte) bool {
	return strings.IndexByte(whitespace, c) >= 0
}

// readLogicalLines reads r as Postfix does: blank lines and lines whose first
// non-whitespace character is '#' are skipped, a line that starts with
// whitespace continues the previous logical line. fn gets each logical line
// and the number of its first physical line; warn gets problems found.
func readLogicalLines(r io.Reader, name string, fn func(text string, line int), warn func(line int, msg string)) error {
	data, err := readAll(r)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	var (
		cur    string          // the first physical line of the logical line
		long   strings.Builder // the logical line when it has continuations
		first  int
		lineno int
		orphan bool
	)
	flush := func() {
		if long.Len() > 0 {
			cur = long.String()
			long.Reset()
		}
		if cur != "" {
			fn(cur, first)
		}
		cur = ""
	}
	for data != "" {
		line := data
		if i := strings.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = ""
		}
		lineno++
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimLeft(line, whitespace)
		switch {
		case trimmed == "" || trimmed[0] == '#':
			// blank or comment line: skipped, does not end a logical line
		case isSpace(line[0]) && cur != "":
			if long.Len() == 0 {
				long.WriteString(cur)
			}
			long.WriteString(line)
		case isSpace(line[0]):
			if !orphan {
				warn(lineno, fmt.Sprintf("logical line must not start with whitespace: %q", abbrev(trimmed)))
			}
			orphan = true
		default:
			flush()
			orphan = false
			cur, first = line, lineno
		}
	}
	flush()
	return nil
}

// readAll reads r into one string, so that the entries parsed from it share
// its memory instead of being allocated one by one.
func readAll(r io.Reader) (string, error) {
	var b strings.Builder
	if f, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			b.Grow(int(fi.Size()) + 1)
		}
	}
	_, err := io.Copy(&b, r)
	return b.String(), err
}

// abbrev shortens s for a diagnostic.
func abbrev(s string) string {
	const max = 30
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}

// ParseSource parses a postmap(1) source file: "key whitespace value"
// records with continuation lines and comments. A key may be enclosed in
// double quotes to contain whitespace, with \" and \\ escapes inside.
// Malformed records are skipped with a warning naming name and the line,
// as postmap does. The error is only for read failures.
func ParseSource(r io.Reader, name string) ([]Entry, []string, error) {
	var entries []Entry
	warnings, err := scanSource(r, name, func(e Entry) { entries = append(entries, e) })
	return entries, warnings, err
}

// scanSource is ParseSource calling fn for each entry.
func scanSource(r io.Reader, name string, fn func(Entry)) ([]string, error) {
	var warnings []string
	warn := func(line int, msg string) {
		warnings = append(warnings, fmt.Sprintf("%s, line %d: %s", name, line, msg))
	}
	err := readLogicalLines(r, name, func(text string, line int) {
		e, msg := parseSourceLine(text, line)
		if msg != "" {
			warn(line, msg)
		}
		if e.Key != "" {
			fn(e)
		}
	}, warn)
	return warnings, err
}

// parseSourceLine parses one logical line of a postmap source file. An entry
// with an empty key means the record is skipped; warn explains why (warn may
// also be set for a record that is kept).
func parseSourceLine(text string, line int) (Entry, string) {
	text = strings.Trim(text, whitespace)
	if text == "" {
		return Entry{}, "expected format: key whitespace value"
	}
	var key, rest string
	if text[0] == '"' {
		k, n, ok := unquote(text)
		if !ok {
			return Entry{}, "unbalanced double quote in key -- ignoring this line"
		}
		key, rest = k, text[n:]
		if rest != "" && !isSpace(rest[0]) {
			return Entry{}, "expected format: key whitespace value"
		}
	} else {
		i := strings.IndexAny(text, whitespace)
		if i < 0 {
			i = len(text)
		}
		key, rest = text[:i], text[i:]
	}
	value := strings.Trim(rest, whitespace)
	if key == "" || value == "" {
		return Entry{}, "expected format: key whitespace value"
	}
	e := Entry{Key: key, Value: value, Line: line}
	if strings.HasSuffix(key, ":") {
		return e, "record is in \"key: value\" format; is this an alias file?"
	}
	return e, ""
}

// unquote parses a double-quoted string at the start of s, with backslash
// escapes. It returns the unquoted text and the number of bytes consumed.
func unquote(s string) (string, int, bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), i + 1, true
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, false
}

// ParseAliases parses an aliases(5) file: "name: value, value" records with
// continuation lines and comments. A name may be enclosed in double quotes.
// Malformed records are skipped with a warning naming name and the line,
// as postalias does. The error is only for read failures.
func ParseAliases(r io.Reader, name string) ([]Entry, []string, error) {
	var entries []Entry
	warnings, err := scanAliases(r, name, func(e Entry) { entries = append(entries, e) })
	return entries, warnings, err
}

// scanAliases is ParseAliases calling fn for each entry.
func scanAliases(r io.Reader, name string, fn func(Entry)) ([]string, error) {
	var warnings []string
	warn := func(line int, msg string) {
		warnings = append(warnings, fmt.Sprintf("%s, line %d: %s", name, line, msg))
	}
	err := readLogicalLines(r, name, func(text string, line int) {
		e, msg := parseAliasLine(text, line)
		if msg != "" {
			warn(line, msg)
			return
		}
		fn(e)
	}, warn)
	return warnings, err
}

// parseAliasLine parses one logical line of an aliases file. A non-empty
// warn means the record is skipped.
func parseAliasLine(text string, line int) (Entry, string) {
	const needPair = "need name:value pair"
	text = strings.Trim(text, whitespace)
	if text == "" {
		return Entry{}, needPair
	}
	var key, rest string
	if text[0] == '"' {
		k, n, ok := unquote(text)
		if !ok {
			return Entry{}, needPair
		}
		key, rest = k, strings.TrimLeft(text[n:], whitespace)
		if !strings.HasPrefix(rest, ":") {
			return Entry{}, needPair
		}
		rest = rest[1:]
	} else {
		k, r, ok := strings.Cut(text, ":")
		if !ok {
			return Entry{}, needPair
		}
		key, rest = strings.Trim(k, whitespace), r
		if strings.ContainsRune(key, ',') {
			return Entry{}, needPair
		}
		if strings.ContainsAny(key, "@%") {
			return Entry{}, "name must be local"
		}
	}
	value := strings.Trim(rest, whitespace)
	if key == "" || value == "" {
		return Entry{}, needPair
	}
	return Entry{Key: key, Value: value, Line: line}, ""
}
