// Package regexpmap implements Postfix's regexp: and pcre: lookup tables
// (regexp_table(5), pcre_table(5)) with Go's RE2 regular expression engine.
//
// A table is a list of rules tried in file order; the first rule that
// matches the lookup key gives the result, after $1..$9 substitution.
// "if /pattern/" ... "endif" blocks skip the rules inside them when the
// key does not match. regexp: tables match POSIX-style (leftmost-longest),
// pcre: tables Perl-style (leftmost-first). Constructs RE2 cannot run in
// linear time (backreferences, lookaround, atomic groups, possessive
// quantifiers, recursion, conditionals) are refused when the table is
// loaded, with the file and line that uses them.
//
// Differences from Postfix that remain: patterns use Go's syntax, so a
// backslash inside a bracket expression escapes the next character (POSIX
// takes it literally); "$" in a pcre: pattern matches only at the very end
// of the key, as with PCRE's E flag; the regexp: m flag makes "^", "$" and
// "." line-aware but does not keep "[^...]" from matching a newline. Where
// Postfix logs a warning and skips a bad rule, Parse returns an error.
package regexpmap

import (
	"fmt"
	"io"
	"os"
	"regexp"

	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// ruleKind tells what a table line does.
type ruleKind uint8

const (
	kindMatch ruleKind = iota // "/pattern/flags result"
	kindIf                    // "if /pattern/flags"
	kindEndif                 // "endif"
)

// rule is one compiled table line.
type rule struct {
	kind  ruleKind
	re    *regexp.Regexp
	match bool // false for a negated "!/pattern/"
	// result is the replacement text split into literal text and $n
	// references; subst is set when it has any reference.
	result []segment
	subst  bool
	end    int // for kindIf: index of the matching endif rule
}

// Table is an open regexp: or pcre: table. It is safe for concurrent use.
type Table struct {
	spec  string
	rules []rule
}

// Open reads and compiles the table file at path. spec is the "type:name"
// the table is opened as and becomes its Name; pcre selects pcre_table(5)
// syntax instead of regexp_table(5).
func Open(spec, path string, pcre bool) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	defer f.Close()
	return Parse(spec, path, f, pcre)
}

// Parse compiles a table from r. spec becomes the table's Name; file names
// the source in error messages, which read "FILE:LINE: message".
func Parse(spec, file string, r io.Reader, pcre bool) (*Table, error) {
	p := &parser{file: file, pcre: pcre}
	if err := tablefile.Parse(file, r, &p.open, p.parseLine); err != nil {
		return nil, err
	}
	return &Table{spec: spec, rules: p.rules}, nil
}

// Lookup returns the result of the first rule that matches key, with $n
// references replaced by the text the pattern's groups matched. The key
// is matched as given; the i flag controls case sensitivity.
func (t *Table) Lookup(key string) (string, bool, error) {
	for i := 0; i < len(t.rules); i++ {
		r := &t.rules[i]
		switch r.kind {
		case kindIf:
			if r.re.MatchString(key) != r.match {
				i = r.end
			}
		case kindMatch:
			if v, ok := r.apply(key); ok {
				return v, true, nil
			}
		}
	}
	return "", false, nil
}

// apply matches one rule against key and returns its expanded result.
func (r *rule) apply(key string) (string, bool) {
	if !r.subst {
		if r.re.MatchString(key) != r.match {
			return "", false
		}
		return expand(r.result, key, nil), true
	}
	loc := r.re.FindStringSubmatchIndex(key)
	if loc == nil {
		return "", false
	}
	return expand(r.result, key, loc), true
}

// Name returns the "type:name" the table was opened as.
func (t *Table) Name() string { return t.spec }

// Close releases the table; it holds no resources beyond memory.
func (t *Table) Close() error { return nil }

// flavor names the table syntax in messages.
func flavor(pcre bool) string {
	if pcre {
		return "pcre"
	}
	return "regexp"
}
