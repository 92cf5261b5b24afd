package config

import (
	"errors"
	"fmt"
	"strings"
)

// expandBudget bounds the work of one expansion (bytes produced plus
// references followed), so that values like a=$b$b$b, b=$c$c$c, ... cannot
// make an expansion run for long or use much memory.
const expandBudget = 1 << 20

var errBudget = errors.New("parameter expansion result is too large")

// expander expands one value. stack holds the names being expanded, to
// detect reference loops.
type expander struct {
	c      *Config
	vars   map[string]string // ExpandVars: the names, used as they are
	stack  []string
	budget int
}

// expandValue returns the expanded value of name.
func (c *Config) expandValue(name string) (string, error) {
	e := &expander{c: c, budget: expandBudget}
	return e.value(name)
}

// Expand expands the $name references in s against c.
func (c *Config) Expand(s string) (string, error) {
	e := &expander{c: c, budget: expandBudget}
	return e.expand(s)
}

// ExpandVars expands $name, ${name}, ${name?text} and ${name:text} in s
// with vars, as Postfix expands reply templates such as default_rbl_reply:
// the values are used as they are, not expanded again, and unknown names
// are empty.
func ExpandVars(s string, vars map[string]string) (string, error) {
	e := &expander{vars: vars, budget: expandBudget}
	return e.expand(s)
}

// value returns the expanded value of name; undefined names give "".
func (e *expander) value(name string) (string, error) {
	if e.vars != nil {
		if e.budget--; e.budget < 0 {
			return "", errBudget
		}
		return e.vars[name], nil
	}
	for _, n := range e.stack {
		if n == name {
			return "", fmt.Errorf("recursive expansion of parameter %q: %s -> %s",
				name, strings.Join(e.stack, " -> "), name)
		}
	}
	if e.budget--; e.budget < 0 {
		return "", errBudget
	}
	e.stack = append(e.stack, name)
	defer func() { e.stack = e.stack[:len(e.stack)-1] }()
	if name == "myorigin" && e.c.origin != "" {
		return e.c.origin, nil // read from the file it names
	}
	if s, ok := e.c.vals[name]; ok {
		return e.expand(s.value)
	}
	if isComputed(name) {
		return e.computed(name)
	}
	p, _ := Lookup(name)
	return e.expand(p.Default)
}

// expand replaces every reference in s.
func (e *expander) expand(s string) (string, error) {
	var sb strings.Builder
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			if err := e.emit(&sb, s[i:]); err != nil {
				return sb.String(), err
			}
			break
		}
		if err := e.emit(&sb, s[i:i+j]); err != nil {
			return sb.String(), err
		}
		i += j
		text, n, err := e.reference(s[i:])
		if err != nil {
			return sb.String(), err
		}
		if err := e.emit(&sb, text); err != nil {
			return sb.String(), err
		}
		i += n
	}
	return sb.String(), nil
}

func (e *expander) emit(sb *strings.Builder, s string) error {
	if e.budget -= len(s); e.budget < 0 {
		return errBudget
	}
	sb.WriteString(s)
	return nil
}

// reference expands the reference at the start of s (s[0] == '$') and
// returns its text and the number of bytes of s it used.
func (e *expander) reference(s string) (string, int, error) {
	if len(s) < 2 {
		return "$", 1, nil
	}
	switch c := s[1]; {
	case c == '$':
		return "$", 2, nil
	case c == '{' || c == '(':
		end, err := matchingClose(s, 1)
		if err != nil {
			return "", 0, err
		}
		text, err := e.braced(s[2:end], c)
		return text, end + 1, err
	case isNameByte(c):
		n := 1
		for n < len(s) && isNameByte(s[n]) {
			n++
		}
		v, err := e.value(s[1:n])
		return v, n, err
	default:
		return "$", 1, nil
	}
}

// matchingClose returns the index in s of the bracket that closes the one
// at s[open].
func matchingClose(s string, open int) (int, error) {
	o := s[open]
	cl := byte('}')
	if o == '(' {
		cl = ')'
	}
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case o:
			depth++
		case cl:
			if depth--; depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("missing %q in %q", cl, s)
}

// braced expands the inside of ${...} or $(...): a name optionally
// followed by ?value, :value, ?{value}, :{value} or ?{value}:{value}.
func (e *expander) braced(in string, open byte) (string, error) {
	if open == '{' && strings.HasPrefix(in, "{") {
		return e.relational(in)
	}
	n := 0
	for n < len(in) && isNameByte(in[n]) {
		n++
	}
	if n == 0 {
		return "", fmt.Errorf("bad parameter reference: $%c%s", open, in)
	}
	name, rest := in[:n], in[n:]
	val, err := e.value(name)
	if err != nil || rest == "" {
		return val, err
	}
	op := rest[0]
	if op != '?' && op != ':' {
		return "", fmt.Errorf("bad parameter reference: unexpected %q after %q", op, name)
	}
	then, otherwise, err := splitConditional(rest[1:], op)
	if err != nil {
		return "", fmt.Errorf("bad parameter reference to %q: %w", name, err)
	}
	if (val != "") == (op == '?') {
		return e.expand(then)
	}
	return e.expand(otherwise)
}

// splitConditional parses the text after ? or :. The Postfix 3.x forms
// {then} and {then}:{else} (the latter only after ?) are recognised;
// anything else is the whole "then" text.
func splitConditional(s string, op byte) (then, otherwise string, err error) {
	t := strings.TrimLeft(s, " \t")
	if t == "" || t[0] != '{' {
		return s, "", nil
	}
	end, err := matchingClose(t, 0)
	if err != nil {
		return "", "", err
	}
	then = t[1:end]
	rest := strings.TrimLeft(t[end+1:], " \t")
	if rest == "" {
		return then, "", nil
	}
	if op != '?' || rest[0] != ':' {
		return "", "", fmt.Errorf("unexpected text %q after {...}", rest)
	}
	rest = strings.TrimLeft(rest[1:], " \t")
	if rest == "" || rest[0] != '{' {
		return "", "", errors.New("missing {...} after ':'")
	}
	end, err = matchingClose(rest, 0)
	if err != nil {
		return "", "", err
	}
	if tail := strings.TrimSpace(rest[end+1:]); tail != "" {
		return "", "", fmt.Errorf("unexpected text %q after {...}", tail)
	}
	return then, rest[1:end], nil
}

func isNameByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// collectRefs adds to refs every name referenced in s.
func collectRefs(s string, refs map[string]bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		j := i + 1
		switch s[j] {
		case '$':
			i = j
			continue
		case '{', '(':
			j++
		}
		k := j
		for k < len(s) && isNameByte(s[k]) {
			k++
		}
		if k > j {
			refs[s[j:k]] = true
		}
		i = k - 1
	}
}
