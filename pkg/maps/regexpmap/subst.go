package regexpmap

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// segment is a piece of a result: literal text, or (group > 0) a
// reference to the text matched by a capture group.
type segment struct {
	lit   string
	group int
}

// maxGroupDigits bounds the length of a replacement index.
const maxGroupDigits = 4

// parseResult splits a result into literal text and $n, ${n} and $(n)
// references; "$$" stands for "$". It returns the highest group used.
func parseResult(s string) ([]segment, int, error) {
	var (
		segs []segment
		lit  strings.Builder
		high int
	)
	for i := 0; i < len(s); {
		if s[i] != '$' {
			j := strings.IndexByte(s[i:], '$')
			if j < 0 {
				j = len(s) - i
			}
			lit.WriteString(s[i : i+j])
			i += j
			continue
		}
		name, next, err := refName(s, i+1)
		if err != nil {
			return nil, 0, err
		}
		i = next
		if name == "$" {
			lit.WriteByte('$')
			continue
		}
		n, err := groupIndex(name)
		if err != nil {
			return nil, 0, err
		}
		if lit.Len() > 0 {
			segs = append(segs, segment{lit: lit.String()})
			lit.Reset()
		}
		segs = append(segs, segment{group: n})
		high = max(high, n)
	}
	if lit.Len() > 0 {
		segs = append(segs, segment{lit: lit.String()})
	}
	return segs, high, nil
}

// refName reads the reference name that follows a '$' at s[i-1]; "$" is
// returned for "$$". next is the index after the reference.
func refName(s string, i int) (name string, next int, err error) {
	if i < len(s) && s[i] == '$' {
		return "$", i + 1, nil
	}
	if i < len(s) && (s[i] == '{' || s[i] == '(') {
		closer := byte('}')
		if s[i] == '(' {
			closer = ')'
		}
		j := strings.IndexByte(s[i+1:], closer)
		if j < 0 {
			return "", 0, fmt.Errorf("missing \"%c\" in result text %q", closer, s)
		}
		name = s[i+1 : i+1+j]
		next = i + 2 + j
	} else {
		j := i
		for j < len(s) && (tablefile.IsAlnum(s[j]) || s[j] == '_') {
			j++
		}
		name, next = s[i:j], j
	}
	if name == "" {
		return "", 0, fmt.Errorf("empty replacement index after \"$\" in result text %q (use \"$$\" for a literal \"$\")", s)
	}
	return name, next, nil
}

// groupIndex converts a reference name to a group number.
func groupIndex(name string) (int, error) {
	if strings.Trim(name, "0123456789") != "" {
		return 0, fmt.Errorf("non-numeric replacement index %q", name)
	}
	n, err := strconv.Atoi(name)
	if err != nil || n < 1 || len(name) > maxGroupDigits {
		return 0, fmt.Errorf("out-of-range replacement index %q", name)
	}
	return n, nil
}

// expand builds a result from its segments; loc holds the submatch
// offsets of the match (nil when the result has no references). A group
// that did not take part in the match expands to nothing.
func expand(segs []segment, key string, loc []int) string {
	if len(segs) == 1 && segs[0].group == 0 {
		return segs[0].lit
	}
	var b strings.Builder
	for _, s := range segs {
		if s.group == 0 {
			b.WriteString(s.lit)
			continue
		}
		if 2*s.group+1 < len(loc) && loc[2*s.group] >= 0 {
			b.WriteString(key[loc[2*s.group]:loc[2*s.group+1]])
		}
	}
	return b.String()
}
