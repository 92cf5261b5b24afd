package sqlmap

import (
	"errors"
	"strings"
)

// template is a parsed query or result_format template: literal text and
// "%" expansions, with the expansion letter (or digit) stored in code.
type template struct {
	parts []part
}

// part is literal text (code 0) or one expansion.
type part struct {
	lit  string
	code byte
}

// parseTemplate parses a template with the expansions %% %s %u %d %S %U
// %D and %1 to %9. Query and result_format templates accept the same
// expansions, as in Postfix.
func parseTemplate(s string) (template, error) {
	var t template
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return template{}, errors.New("template ends in '%'")
		}
		i++
		c := s[i]
		switch {
		case c == '%':
			lit.WriteByte('%')
		case strings.IndexByte("sudSUD", c) >= 0 || (c >= '1' && c <= '9'):
			if lit.Len() > 0 {
				t.parts = append(t.parts, part{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, part{code: c})
		default:
			return template{}, errors.New("unknown expansion '%" + string(c) + "'")
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{lit: lit.String()})
	}
	return t, nil
}

// address is a lookup key or result value split at its last "@".
type address struct {
	whole, local, domain string
	hasAt                bool
}

// splitAddress splits s at its last "@", as Postfix does.
func splitAddress(s string) address {
	a := address{whole: s, local: s}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		a.local, a.domain, a.hasAt = s[:i], s[i+1:], true
	}
	return a
}

// keyPart returns what an expansion code takes from a lookup key, and
// false when the key lacks it: %u of "@domain", %d or %1..%9 of a key
// without a domain or with too few domain labels.
func keyPart(a address, code byte) (string, bool) {
	switch code {
	case 's', 'S':
		return a.whole, true
	case 'u', 'U':
		if a.hasAt && a.local == "" {
			return "", false
		}
		return a.local, true
	case 'd', 'D':
		return a.domain, a.hasAt && a.domain != ""
	}
	if !a.hasAt || a.domain == "" {
		return "", false
	}
	labels := strings.Split(a.domain, ".")
	n := int(code - '0')
	if n > len(labels) {
		return "", false
	}
	return labels[len(labels)-n], true
}

// expandQuery expands the query template for key, passing every
// substituted piece through quote. It returns false when the key lacks a
// part the template needs: Postfix then runs no query and the lookup
// finds nothing.
func expandQuery(t template, key string, quote func(string) string) (string, bool) {
	if key == "" {
		return "", false
	}
	a := splitAddress(key)
	var b strings.Builder
	for _, p := range t.parts {
		if p.code == 0 {
			b.WriteString(p.lit)
			continue
		}
		v, ok := keyPart(a, p.code)
		if !ok {
			return "", false
		}
		b.WriteString(quote(v))
	}
	return b.String(), true
}

// resultUsable reports whether every key expansion (%S %U %D %1..%9) of
// the result template can be filled from key. When it cannot, Postfix
// suppresses the query.
func resultUsable(t template, key string) bool {
	a := splitAddress(key)
	for _, p := range t.parts {
		if p.code == 0 || p.code == 's' || p.code == 'u' || p.code == 'd' {
			continue
		}
		if _, ok := keyPart(a, p.code); !ok {
			return false
		}
	}
	return true
}

// expandResult applies the result template to one result value. Lower
// case expansions take parts of the value, upper case ones and digits
// parts of the key. It returns false when the value is to be skipped: an
// empty value, %u of a value with an empty local part, %d of a value
// without a domain.
func expandResult(t template, value, key string) (string, bool) {
	if value == "" {
		return "", false
	}
	v, k := splitAddress(value), splitAddress(key)
	var b strings.Builder
	for _, p := range t.parts {
		var (
			s  string
			ok bool
		)
		switch p.code {
		case 0:
			s, ok = p.lit, true
		case 's', 'u', 'd':
			s, ok = keyPart(v, p.code)
		default:
			s, ok = keyPart(k, p.code)
		}
		if !ok {
			return "", false
		}
		b.WriteString(s)
	}
	return b.String(), true
}

// quoteMySQL escapes s for a single- or double-quoted MySQL string as
// mysql_real_escape_string does with the default SQL mode.
func quoteMySQL(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString(`\0`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\\', '\'', '"':
			b.WriteByte('\\')
			b.WriteByte(c)
		case 0x1a:
			b.WriteString(`\Z`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// quoteSingle doubles single quotes, which is what PostgreSQL (with
// standard_conforming_strings on, the default since 9.1) and SQLite need
// inside a single-quoted string.
func quoteSingle(s string) string {
	return strings.ReplaceAll(s, "'", "''")
}
