package local

import (
	"strings"
)

// targetKind is what an alias, .forward or :include: item delivers to.
type targetKind int

const (
	tAddress targetKind = iota // an address: recursion or forwarding
	tCommand                   // |command
	tFile                      // /file/name, or /maildir/ ending in "/"
	tInclude                   // :include:/file/name
	tMailbox                   // \user: the user's mailbox, no expansion
)

// Target is one destination of an alias value, .forward or :include: file.
type Target struct {
	Kind  targetKind
	Value string // address, command, path or user name
}

// maxTargets bounds the number of items taken from one list.
const maxTargets = 10000

// ParseTargets splits an aliases(5)/.forward list into its destinations:
// items are separated by commas or newlines; double quotes protect commas
// and spaces ("|cmd a, b"); lines starting with "#" are comments; an
// address may be written "Name <addr>".
func ParseTargets(s string) []Target {
	var out []Target
	for _, item := range splitItems(s) {
		if t, ok := classify(item); ok {
			out = append(out, t)
			if len(out) >= maxTargets {
				break
			}
		}
	}
	return out
}

// splitItems splits at top-level commas and newlines, honouring double
// quotes, backslash escapes within quotes, angle brackets and comment
// lines.
func splitItems(s string) []string {
	var items []string
	var cur strings.Builder
	inQuote, angle, lineStart := false, 0, true
	flush := func() {
		if item := strings.TrimSpace(cur.String()); item != "" {
			items = append(items, item)
		}
		cur.Reset()
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if lineStart && !inQuote {
			if rest := strings.TrimLeft(s[i:], " \t"); strings.HasPrefix(rest, "#") {
				j := strings.IndexByte(s[i:], '\n')
				if j < 0 {
					break
				}
				i += j
				continue
			}
		}
		lineStart = false
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case inQuote:
			cur.WriteByte(c)
		case c == '<':
			angle++
			cur.WriteByte(c)
		case c == '>' && angle > 0:
			angle--
			cur.WriteByte(c)
		case c == '\n':
			angle = 0
			lineStart = true
			flush()
		case c == ',' && angle == 0:
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	return items
}

// classify turns one list item into a target; ok is false for an empty
// item.
func classify(item string) (Target, bool) {
	item = strings.TrimSpace(item)
	if whollyQuoted(item) {
		item = strings.TrimSpace(unquoteLocal(item))
	} else if open := strings.LastIndexByte(item, '<'); open >= 0 && strings.HasSuffix(item, ">") && !strings.HasPrefix(item, "|") {
		item = strings.TrimSpace(item[open+1 : len(item)-1])
		if whollyQuoted(item) {
			item = unquoteLocal(item)
		}
	}
	switch {
	case item == "":
		return Target{}, false
	case item[0] == '|':
		cmd := strings.TrimSpace(item[1:])
		return Target{Kind: tCommand, Value: cmd}, cmd != ""
	case len(item) >= 9 && strings.EqualFold(item[:9], ":include:"):
		path := strings.TrimSpace(item[9:])
		return Target{Kind: tInclude, Value: path}, path != ""
	case item[0] == '/':
		return Target{Kind: tFile, Value: item}, true
	case item[0] == '\\':
		user := strings.TrimSpace(item[1:])
		return Target{Kind: tMailbox, Value: user}, user != ""
	}
	return Target{Kind: tAddress, Value: item}, true
}

// whollyQuoted reports whether s is one quoted string, "...".
func whollyQuoted(s string) bool {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return false
		}
	}
	return true
}
