package qmgr

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// userACL is a Postfix user access list, as authorized_submit_users
// takes it: user names, type:table lookups (static:anyone and static:all
// match everyone), each possibly negated with "!"; the first match
// decides, and a user no element matches is refused.
type userACL struct {
	items []aclItem
}

type aclItem struct {
	neg   bool
	name  string   // a user name, or
	table maps.Map // a table in which the name is looked up
}

// parseUserACL reads the list of param; nil (everyone) for an empty list
// and for Postfix's default static:anyone.
func parseUserACL(param, v string) (*userACL, error) {
	words := splitACL(v)
	if len(words) == 0 || len(words) == 1 && (words[0] == "static:anyone" || words[0] == "static:all") {
		return nil, nil
	}
	acl := &userACL{}
	for _, w := range words {
		it := aclItem{}
		if rest, ok := strings.CutPrefix(w, "!"); ok {
			it.neg, w = true, rest
		}
		if strings.Contains(w, ":") {
			m, err := maps.Open(w, maps.Options{})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", param, err)
			}
			it.table = m
		} else {
			it.name = w
		}
		acl.items = append(acl.items, it)
	}
	return acl, nil
}

// allows reports whether user may act; a nil list allows everyone. A
// table failure refuses, with the error.
func (a *userACL) allows(user string) (bool, error) {
	if a == nil {
		return true, nil
	}
	for _, it := range a.items {
		match := it.name == user
		if it.table != nil {
			_, found, err := it.table.Lookup(user)
			if err != nil {
				return false, err
			}
			match = found
		}
		if match {
			return !it.neg, nil
		}
	}
	return false, nil
}

// splitACL splits a list at commas and white space, except inside
// braces (inline:{ a=b, c=d }).
func splitACL(v string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range v + " " {
		sep := depth == 0 && (r == ',' || r == ' ' || r == '\t' || r == '\n')
		switch {
		case r == '{':
			depth++
		case r == '}' && depth > 0:
			depth--
		}
		if sep {
			if start >= 0 {
				out = append(out, v[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}
