package maps

import (
	"fmt"
	"strings"
)

// unionMap queries every member table and joins the values found with ",".
type unionMap struct {
	spec    string
	members []Map
}

func openUnion(spec, name string, opt Options) (Map, []string, error) {
	members, warnings, err := openMembers(spec, name, "unionmap", opt)
	if err != nil {
		return nil, warnings, err
	}
	return &unionMap{spec: spec, members: members}, warnings, nil
}

// openMembers opens the tables of "typ:{type:name, ...}".
func openMembers(spec, name, typ string, opt Options) ([]Map, []string, error) {
	inner, ok := stripBraces(strings.Trim(name, whitespace))
	if !ok {
		return nil, nil, fmt.Errorf("open %s: syntax error: need \"%s:{type:name...}\"", spec, typ)
	}
	elems, err := splitBraced(inner)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", spec, err)
	}
	if len(elems) == 0 {
		return nil, nil, fmt.Errorf("open %s: empty table list", spec)
	}
	var (
		members  []Map
		warnings []string
	)
	for _, elem := range elems {
		m, w, err := open(elem, opt)
		warnings = append(warnings, w...)
		if err != nil {
			CloseAll(members)
			return nil, warnings, fmt.Errorf("open %s: %w", spec, err)
		}
		members = append(members, m)
	}
	return members, warnings, nil
}

// pipeMap feeds each table's result to the next as its key; the last
// table's result is the answer (Postfix's pipemap:).
type pipeMap struct {
	spec    string
	members []Map
}

func openPipe(spec, name string, opt Options) (Map, []string, error) {
	members, warnings, err := openMembers(spec, name, "pipemap", opt)
	if err != nil {
		return nil, warnings, err
	}
	return &pipeMap{spec: spec, members: members}, warnings, nil
}

func (p *pipeMap) Lookup(key string) (string, bool, error) {
	for _, m := range p.members {
		v, ok, err := m.Lookup(key)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", p.spec, err)
		}
		if !ok {
			return "", false, nil
		}
		key = v
	}
	return key, true, nil
}

func (p *pipeMap) Name() string { return p.spec }

func (p *pipeMap) Close() error { return CloseAll(p.members) }

func (u *unionMap) Lookup(key string) (string, bool, error) {
	var values []string
	for _, m := range u.members {
		v, ok, err := m.Lookup(key)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", u.spec, err)
		}
		if ok {
			values = append(values, v)
		}
	}
	if len(values) == 0 {
		return "", false, nil
	}
	return strings.Join(values, ","), true, nil
}

func (u *unionMap) Name() string { return u.spec }

func (u *unionMap) Close() error { return CloseAll(u.members) }

// chainMap searches its tables in order; the first that has the key wins.
type chainMap struct {
	name string
	list []Map
}

// Chain makes one Map of a parameter's table list, searched in order as
// Postfix searches alias_maps or smtpd_sender_login_maps: the first table
// that has the key answers; a table that fails stops the search with its
// error. name is the parameter's name, for messages.
func Chain(name string, list []Map) Map { return &chainMap{name: name, list: list} }

func (c *chainMap) Lookup(key string) (string, bool, error) {
	for _, m := range c.list {
		v, found, err := m.Lookup(key)
		if err != nil || found {
			return v, found, err
		}
	}
	return "", false, nil
}

func (c *chainMap) Name() string { return c.name }

func (c *chainMap) Close() error {
	CloseAll(c.list)
	return nil
}
