// Package maps implements Postfix-style lookup tables ("type:name"), the
// source file parsers of postmap(1) and postalias(1), and the builder that
// turns a source file into the bbolt database read by the hash: and btree:
// table types.
package maps

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps/cidrmap"
	"github.com/tern-mta/tern/pkg/maps/regexpmap"
	"github.com/tern-mta/tern/pkg/maps/sqlmap"
)

// Map is an open lookup table. Lookup keys are matched case-insensitively
// (Postfix folds keys to lower case for these table types); values are
// returned as stored.
type Map interface {
	// Lookup returns the value stored under key. found is false when the
	// table has no such key; err is set when the table could not be
	// searched (Postfix treats that as a temporary failure).
	Lookup(key string) (value string, found bool, err error)
	// Name returns the "type:name" the table was opened as.
	Name() string
	// Close releases the table's resources.
	Close() error
}

// Walker is implemented by tables whose entries can be listed, as with
// "postmap -s". Walk calls fn for every entry in key order and stops at the
// first error fn returns.
type Walker interface {
	Walk(fn func(key, value string) error) error
}

// Options controls how tables are opened.
type Options struct {
	// ConfigDir is the configuration directory. Relative file names are
	// taken as given, as Postfix uses paths as written; the directory is
	// kept for table types whose configuration lives there.
	ConfigDir string
}

// ErrLookup is wrapped by every error that a fail: table returns.
var ErrLookup = errors.New("table lookup failed")

// Open opens the lookup table named by spec, in Postfix's "type:name" form.
func Open(spec string, opt Options) (Map, error) {
	m, _, err := open(spec, opt)
	return m, err
}

// OpenList opens every table of a Postfix table list such as alias_maps, in
// order. A table of type "nis", which Postfix's own default alias_maps
// names, is skipped with a warning instead of an error; any other
// unsupported type is an error naming it. Warnings also report problems
// found while loading text tables. On error, tables already opened are
// closed.
func OpenList(specs []string, opt Options) ([]Map, []string, error) {
	var (
		list     []Map
		warnings []string
	)
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		if typ, _, _ := strings.Cut(spec, ":"); typ == "nis" {
			warnings = append(warnings, fmt.Sprintf("lookup table %q: type \"nis\" is not supported; table ignored", spec))
			continue
		}
		m, w, err := open(spec, opt)
		warnings = append(warnings, w...)
		if err != nil {
			CloseAll(list)
			return nil, warnings, err
		}
		list = append(list, m)
	}
	return list, warnings, nil
}

// CloseAll closes every table in ms and returns the first error.
func CloseAll(ms []Map) error {
	var first error
	for _, m := range ms {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// LookupFirst searches the tables in order and returns the value of the
// first one that has key. A lookup error stops the search and is returned,
// as Postfix does not skip a table that could not be searched.
func LookupFirst(ms []Map, key string) (value string, found bool, err error) {
	for _, m := range ms {
		v, ok, err := m.Lookup(key)
		if err != nil {
			return "", false, err
		}
		if ok {
			return v, true, nil
		}
	}
	return "", false, nil
}

// SplitSpecs splits a table list such as "hash:/etc/aliases, inline:{ a=b,
// c=d }" at commas and whitespace, keeping text inside braces together.
func SplitSpecs(list string) ([]string, error) {
	return splitBraced(list)
}

// OpenSpecList opens the tables of a list as written in main.cf (see
// SplitSpecs), with OpenList's warnings. An empty list opens nothing.
func OpenSpecList(list string, opt Options) ([]Map, []string, error) {
	specs, err := SplitSpecs(list)
	if err != nil || len(specs) == 0 {
		return nil, nil, err
	}
	return OpenList(specs, opt)
}

// SplitSpec splits "type:name" into its two parts.
func SplitSpec(spec string) (typ, name string, err error) {
	typ, name, ok := strings.Cut(spec, ":")
	if !ok || typ == "" {
		return "", "", fmt.Errorf("open lookup table: expecting \"type:name\" form instead of %q", spec)
	}
	return typ, name, nil
}

// open is the type registry: it maps a table type to its opener. It also
// returns warnings from loading text tables.
func open(spec string, opt Options) (Map, []string, error) {
	typ, name, err := SplitSpec(spec)
	if err != nil {
		return nil, nil, err
	}
	switch typ {
	case "proxy":
		// Postfix's proxymap(8) shares tables among its daemons and
		// reaches them from a chroot; tern's daemons open the table
		// themselves, so the prefix only names the table behind it.
		return open(name, opt)
	case "unix":
		m, err := openUnix(spec, name)
		return m, nil, err
	case "hash", "btree":
		m, err := openBolt(spec, name)
		if err != nil {
			return nil, nil, err
		}
		return m, staleWarning(name), nil
	case "texthash":
		return openTexthash(spec, name)
	case "inline":
		m, err := openInline(spec, name)
		return m, nil, err
	case "static":
		m, err := openStatic(spec, name)
		return m, nil, err
	case "fail":
		return failMap{spec: spec}, nil, nil
	case "unionmap":
		return openUnion(spec, name, opt)
	case "pipemap":
		return openPipe(spec, name, opt)
	case "regexp", "pcre":
		if rules, ok, err := inlineRules(name); ok {
			if err != nil {
				return nil, nil, fmt.Errorf("open %s: %w", spec, err)
			}
			m, err := regexpmap.Parse(spec, spec, strings.NewReader(rules), typ == "pcre")
			return m, nil, err
		}
		m, err := regexpmap.Open(spec, name, typ == "pcre")
		if err != nil {
			return nil, nil, err
		}
		return m, nil, nil
	case "cidr":
		if rules, ok, err := inlineRules(name); ok {
			if err != nil {
				return nil, nil, fmt.Errorf("open %s: %w", spec, err)
			}
			m, err := cidrmap.Parse(spec, spec, strings.NewReader(rules))
			return m, nil, err
		}
		m, err := cidrmap.Open(spec, name)
		if err != nil {
			return nil, nil, err
		}
		return m, nil, nil
	case "mysql", "pgsql", "sqlite":
		m, err := sqlmap.Open(typ, name)
		if err != nil {
			return nil, nil, err
		}
		return m, nil, nil
	default:
		return nil, nil, fmt.Errorf("open %s: unsupported lookup table type %q", spec, typ)
	}
}

// inlineRules reads the inline form of a pattern table, Postfix 3.7's
// "regexp:{ {/pattern/ result}, {/pattern/ result} }" (so for pcre: and
// cidr:), as the lines of a table file; ok is false for a file name.
func inlineRules(name string) (rules string, ok bool, err error) {
	name = strings.Trim(name, whitespace)
	if !strings.HasPrefix(name, "{") {
		return "", false, nil
	}
	inner, good := stripBraces(name)
	if !good {
		return "", true, fmt.Errorf("syntax error: need \"{ {rule}, {rule}... }\"")
	}
	elems, err := splitBraced(inner)
	if err != nil {
		return "", true, err
	}
	var b strings.Builder
	for _, e := range elems {
		if r, good := stripBraces(e); good {
			e = r
		}
		b.WriteString(strings.Trim(e, whitespace) + "\n")
	}
	if b.Len() == 0 {
		return "", true, fmt.Errorf("syntax error: empty table")
	}
	return b.String(), true, nil
}

// fold maps a lookup key to the case in which tables store it.
func fold(key string) string {
	return strings.ToLower(key)
}

// AddressKeys returns the keys of virtual(5), relocated(5) and
// access-style address lookups, in order: user+ext@domain, user@domain,
// then for local domains user+ext and user, then @domain. The extension is
// what follows the first of the recipient_delimiter characters.
func AddressKeys(local, domain, delimiter string, isLocal bool) []string {
	base := local
	if delimiter != "" {
		if i := strings.IndexAny(local, delimiter); i > 0 {
			base = local[:i]
		}
	}
	keys := []string{local + "@" + domain}
	if base != local {
		keys = append(keys, base+"@"+domain)
	}
	if isLocal {
		keys = append(keys, local)
		if base != local {
			keys = append(keys, base)
		}
	}
	return append(keys, "@"+domain)
}
