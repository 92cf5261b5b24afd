// Package cidrmap implements Postfix's cidr: lookup table (cidr_table(5)):
// a list of "network/prefix result" rules searched in file order, where
// the lookup key is an IP address and the first network that contains it
// gives the result.
package cidrmap

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"

	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// ruleKind tells what a table line does.
type ruleKind uint8

const (
	kindMatch ruleKind = iota // "network/prefix result"
	kindIf                    // "if network/prefix"
	kindEndif                 // "endif"
)

// rule is one parsed table line.
type rule struct {
	kind   ruleKind
	prefix netip.Prefix
	match  bool // false for a negated "!network/prefix"
	result string
	end    int // for kindIf: index of the matching endif rule
}

// Table is an open cidr: table. It is safe for concurrent use.
type Table struct {
	spec  string
	rules []rule
}

// Open reads the table file at path. spec is the "type:name" the table is
// opened as and becomes its Name.
func Open(spec, path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	defer f.Close()
	return Parse(spec, path, f)
}

// Parse reads a table from r. spec becomes the table's Name; file names
// the source in error messages, which read "FILE:LINE: message".
func Parse(spec, file string, r io.Reader) (*Table, error) {
	p := &parser{file: file}
	if err := tablefile.Parse(file, r, &p.open, p.parseLine); err != nil {
		return nil, err
	}
	return &Table{spec: spec, rules: p.rules}, nil
}

// Lookup returns the result of the first rule whose network contains the
// address key. A key that is not an IP address matches nothing. An
// IPv4-mapped IPv6 address matches as the IPv4 address it carries.
func (t *Table) Lookup(key string) (string, bool, error) {
	addr, err := netip.ParseAddr(key)
	if err != nil {
		return "", false, nil
	}
	addr = addr.WithZone("").Unmap()
	for i := 0; i < len(t.rules); i++ {
		r := &t.rules[i]
		switch r.kind {
		case kindIf:
			if r.prefix.Contains(addr) != r.match {
				i = r.end
			}
		case kindMatch:
			if r.prefix.Contains(addr) == r.match {
				return r.result, true, nil
			}
		}
	}
	return "", false, nil
}

// Name returns the "type:name" the table was opened as.
func (t *Table) Name() string { return t.spec }

// Close releases the table; it holds no resources beyond memory.
func (t *Table) Close() error { return nil }

// parser turns logical lines into rules.
type parser struct {
	file  string
	rules []rule
	open  tablefile.IfStack // IF rules still waiting for ENDIF
}

// errorf returns an error that names the file and line.
func (p *parser) errorf(line int, format string, args ...any) error {
	return tablefile.Errorf(p.file, line, format, args...)
}

// parseLine parses one logical line.
func (p *parser) parseLine(l tablefile.Line) error {
	text := strings.TrimRight(l.Text, spaces)
	switch {
	case tablefile.IsKeyword(text, "if"):
		return p.parseIf(strings.TrimLeft(text[2:], spaces), l.Number)
	case tablefile.IsKeyword(text, "endif"):
		return p.parseEndif(strings.TrimLeft(text[5:], spaces), l.Number)
	}
	key, value := splitField(text)
	if value == "" {
		return p.errorf(l.Number, "no lookup result for %q", clip(key))
	}
	prefix, match, err := parsePattern(key)
	if err != nil {
		return p.errorf(l.Number, "%v", err)
	}
	p.rules = append(p.rules, rule{kind: kindMatch, prefix: prefix, match: match, result: value})
	return nil
}

// parseIf parses "if [!]network/prefix"; rest follows the keyword.
func (p *parser) parseIf(rest string, line int) error {
	key, extra := splitField(rest)
	if key == "" {
		return p.errorf(line, "no address pattern after IF")
	}
	if extra != "" {
		return p.errorf(line, "extra text after IF statement: %q", clip(extra))
	}
	prefix, match, err := parsePattern(key)
	if err != nil {
		return p.errorf(line, "%v", err)
	}
	p.open.Push(len(p.rules), line)
	p.rules = append(p.rules, rule{kind: kindIf, prefix: prefix, match: match})
	return nil
}

// parseEndif closes the innermost IF; rest follows the keyword.
func (p *parser) parseEndif(rest string, line int) error {
	if rest != "" {
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

// splitField splits s into its first whitespace-delimited field and the
// trimmed rest.
func splitField(s string) (field, rest string) {
	i := strings.IndexAny(s, spaces)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.Trim(s[i:], spaces)
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	const max = 60
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
