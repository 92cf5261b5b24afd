package maps

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// listSeparators separate the elements of a table list or an inline table.
const listSeparators = ", \t\r\n"

// splitBraced splits s at commas and whitespace, keeping text inside
// balanced braces in one element, as Postfix does for table lists.
func splitBraced(s string) ([]string, error) {
	var out []string
	depth, start := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				return nil, fmt.Errorf("syntax error in %q: unbalanced '}'", s)
			}
			depth--
		case depth == 0 && strings.IndexByte(listSeparators, c) >= 0:
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if depth > 0 {
		return nil, fmt.Errorf("syntax error in %q: missing '}'", s)
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out, nil
}

// stripBraces removes the braces around "{ text }" and the whitespace
// inside them. ok is false when s is not enclosed in one pair of braces.
func stripBraces(s string) (string, bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return "", false
	}
	depth := 0
	for i := 0; i < len(s)-1; i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return "", false // the first brace closes before the end
			}
		}
	}
	return strings.Trim(s[1:len(s)-1], whitespace), true
}

// ParseInline parses the name part of an inline: table, "{ key=value,
// { key = text with whitespace or commas } }".
func ParseInline(name string) ([]Entry, error) {
	inner, ok := stripBraces(strings.Trim(name, whitespace))
	if !ok {
		return nil, fmt.Errorf("syntax error in %q: need \"{ name=value... }\"", name)
	}
	elems, err := splitBraced(inner)
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, fmt.Errorf("syntax error in %q: empty table", name)
	}
	entries := make([]Entry, 0, len(elems))
	for _, elem := range elems {
		if elem[0] == '{' {
			inner, ok := stripBraces(elem)
			if !ok {
				return nil, fmt.Errorf("syntax error in %q: bad braces in %q", name, elem)
			}
			elem = inner
		}
		k, v, found := strings.Cut(elem, "=")
		k = strings.Trim(k, whitespace)
		if !found {
			return nil, fmt.Errorf("syntax error in %q: missing '=' after attribute name in %q", name, elem)
		}
		if k == "" {
			return nil, fmt.Errorf("syntax error in %q: missing attribute name in %q", name, elem)
		}
		entries = append(entries, Entry{Key: k, Value: strings.Trim(v, whitespace)})
	}
	return entries, nil
}

// memMap is a table held in memory: inline: and texthash:.
type memMap struct {
	spec string
	m    map[string]string
}

// newMemMap builds a memMap from entries, folding keys and keeping the first
// of duplicate keys. It returns the duplicates as "key" strings per entry.
func newMemMap(spec string, entries []Entry) (*memMap, []Entry) {
	mm := &memMap{spec: spec, m: make(map[string]string, len(entries))}
	var dups []Entry
	for _, e := range entries {
		k := fold(e.Key)
		if _, ok := mm.m[k]; ok {
			dups = append(dups, e)
			continue
		}
		mm.m[k] = e.Value
	}
	return mm, dups
}

func (mm *memMap) Lookup(key string) (string, bool, error) {
	v, ok := mm.m[fold(key)]
	return v, ok, nil
}

func (mm *memMap) Name() string { return mm.spec }

func (mm *memMap) Close() error { return nil }

// Walk calls fn for every entry in key order.
func (mm *memMap) Walk(fn func(key, value string) error) error {
	keys := make([]string, 0, len(mm.m))
	for k := range mm.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, mm.m[k]); err != nil {
			return err
		}
	}
	return nil
}

func openInline(spec, name string) (Map, error) {
	entries, err := ParseInline(name)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	mm, _ := newMemMap(spec, entries)
	return mm, nil
}

func openTexthash(spec, path string) (Map, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", spec, err)
	}
	defer f.Close()
	entries, warnings, err := ParseSource(f, path)
	if err != nil {
		return nil, warnings, fmt.Errorf("open %s: %w", spec, err)
	}
	mm, dups := newMemMap(spec, entries)
	for _, d := range dups {
		warnings = append(warnings, fmt.Sprintf("%s, line %d: duplicate entry: %q", path, d.Line, fold(d.Key)))
	}
	return mm, warnings, nil
}

// staticMap returns its value for every key.
type staticMap struct {
	spec, value string
}

func openStatic(spec, name string) (Map, error) {
	value := name
	if strings.HasPrefix(strings.TrimLeft(name, whitespace), "{") {
		v, ok := stripBraces(strings.Trim(name, whitespace))
		if !ok {
			return nil, fmt.Errorf("open %s: syntax error: need \"static:{ text }\"", spec)
		}
		value = v
	}
	return staticMap{spec: spec, value: value}, nil
}

func (s staticMap) Lookup(string) (string, bool, error) { return s.value, true, nil }

func (s staticMap) Name() string { return s.spec }

func (s staticMap) Close() error { return nil }

// failMap fails every lookup.
type failMap struct {
	spec string
}

func (f failMap) Lookup(string) (string, bool, error) {
	return "", false, fmt.Errorf("%s: %w", f.spec, ErrLookup)
}

func (f failMap) Name() string { return f.spec }

func (f failMap) Close() error { return nil }
