// Package domainlist matches domain names against a Postfix domain list
// such as mydestination, relay_domains or virtual_mailbox_domains: names,
// "!name" exclusions, "/file/name" files holding more entries, and
// "type:table" lookup tables, tried in order with the first match deciding.
package domainlist

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/idn"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// entry is one element of the list.
type entry struct {
	negate bool
	name   string   // a domain name, lower case, or "" for a table
	table  maps.Map // a lookup table
}

// List is a parsed domain list. It is safe for concurrent use when its
// tables are.
type List struct {
	param   string
	parent  bool // parent_domain_matches_subdomains names param
	entries []entry
	tables  []maps.Map
}

// New parses the elements of a domain list parameter. param names the list
// in errors; parentMatches says whether param is listed in
// parent_domain_matches_subdomains, so that "example.com" also matches its
// subdomains, as ".example.com" always does.
func New(param string, elems []string, parentMatches bool, opt maps.Options) (*List, error) {
	l := &List{param: param, parent: parentMatches}
	if err := l.add(elems, opt, 0); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *List) add(elems []string, opt maps.Options, depth int) error {
	for _, elem := range elems {
		e, neg := tablefile.ListPattern(elem)
		if e == "" {
			continue
		}
		switch {
		case strings.HasPrefix(e, "/"):
			if err := l.addFile(e, neg, opt, depth); err != nil {
				return err
			}
		case strings.Contains(e, ":") && !strings.HasPrefix(e, "["):
			m, err := maps.Open(e, opt)
			if err != nil {
				return fmt.Errorf("%s: %w", l.param, err)
			}
			l.tables = append(l.tables, m)
			l.entries = append(l.entries, entry{negate: neg, table: m})
		default:
			l.entries = append(l.entries, entry{negate: neg, name: ascii(normalize(e))})
		}
	}
	return nil
}

// addFile reads "/file/name": its words are list elements, # starts a
// comment.
func (l *List) addFile(path string, neg bool, opt maps.Options, depth int) error {
	if neg {
		return fmt.Errorf("%s: \"!%s\": a file name cannot be negated", l.param, path)
	}
	if depth >= tablefile.MaxListDepth {
		return fmt.Errorf("%s: %s: files nested more than %d deep", l.param, path, tablefile.MaxListDepth)
	}
	words, err := tablefile.ListFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", l.param, err)
	}
	return l.add(words, opt, depth+1)
}

// Empty reports whether the list has no entries.
func (l *List) Empty() bool { return l == nil || len(l.entries) == 0 }

// Match reports whether domain is in the list. A table that cannot be
// searched returns an error: callers defer rather than guess.
func (l *List) Match(domain string) (bool, error) {
	if l == nil {
		return false, nil
	}
	domain = normalize(domain)
	if domain == "" {
		return false, nil
	}
	asciiDomain := ascii(domain)
	for _, e := range l.entries {
		ok, err := l.matchEntry(e, domain, asciiDomain)
		if err != nil {
			return false, fmt.Errorf("%s: %w", l.param, err)
		}
		if ok {
			return !e.negate, nil
		}
	}
	return false, nil
}

// matchEntry matches domain, whose ASCII form is asciiDomain, against e:
// a name in its ASCII form, or a table keyed by either form.
func (l *List) matchEntry(e entry, domain, asciiDomain string) (bool, error) {
	if e.table == nil {
		domain := asciiDomain
		if e.name == domain {
			return true, nil
		}
		if strings.HasPrefix(e.name, ".") {
			return strings.HasSuffix(domain, e.name), nil
		}
		return l.parent && strings.HasSuffix(domain, "."+e.name), nil
	}
	keys := l.tableKeys(domain)
	if asciiDomain != domain {
		keys = append(keys, l.tableKeys(asciiDomain)...)
	}
	for _, key := range keys {
		_, found, err := e.table.Lookup(key)
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}

// tableKeys are the keys a table is searched with: the domain, then each
// parent as "parent" (parent matching) or ".parent".
func (l *List) tableKeys(domain string) []string {
	keys := []string{domain}
	for d := domain; ; {
		_, rest, ok := strings.Cut(d, ".")
		if !ok || rest == "" {
			return keys
		}
		if l.parent {
			keys = append(keys, rest)
		} else {
			keys = append(keys, "."+rest)
		}
		d = rest
	}
}

// Close closes the list's tables.
func (l *List) Close() error {
	if l == nil {
		return nil
	}
	return maps.CloseAll(l.tables)
}

// normalize lower-cases a domain and drops a trailing dot.
func normalize(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// ascii is the ASCII form (xn-- labels) of a normalized domain or
// pattern, as Postfix compares UTF-8 names: bücher.example in
// mydestination matches mail for xn--bcher-kva.example and the other way
// round. A name without one is kept as it is.
func ascii(d string) string {
	a, _ := idn.ToASCII(d, false)
	return a
}

// ParentMatches reports whether param is named in the value of
// parent_domain_matches_subdomains.
func ParentMatches(parentDomainMatchesSubdomains, param string) bool {
	for _, w := range strings.FieldsFunc(parentDomainMatchesSubdomains, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n'
	}) {
		if w == param {
			return true
		}
	}
	return false
}

// FromConfig parses the domain list held by main.cf parameter param; get
// returns a parameter's expanded value (config.Config.Get).
func FromConfig(get func(name string) string, param string, opt maps.Options) (*List, error) {
	elems, err := maps.SplitSpecs(get(param))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	return New(param, elems, ParentMatches(get("parent_domain_matches_subdomains"), param), opt)
}
