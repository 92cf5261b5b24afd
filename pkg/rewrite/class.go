package rewrite

import (
	"fmt"
	"slices"
	"strings"
)

// Class is a kind of address, as named in canonical_classes and
// masquerade_classes.
type Class int

// The address classes of Postfix.
const (
	EnvelopeSender    Class = iota + 1 // envelope_sender
	EnvelopeRecipient                  // envelope_recipient
	HeaderSender                       // header_sender
	HeaderRecipient                    // header_recipient
)

// classNames lists the class names in Class order.
const classNames = "envelope_sender envelope_recipient header_sender header_recipient"

// classByName returns the Class called name.
func classByName(name string) (Class, bool) {
	for i, n := range strings.Fields(classNames) {
		if n == name {
			return Class(i + 1), true
		}
	}
	return 0, false
}

// String returns the Postfix name of c.
func (c Class) String() string {
	names := strings.Fields(classNames)
	if c < 1 || int(c) > len(names) {
		return fmt.Sprintf("Class(%d)", int(c))
	}
	return names[c-1]
}

func (c Class) isSender() bool { return c == EnvelopeSender || c == HeaderSender }

// Postfix defaults of the class parameters, as bit masks of 1<<Class.
const (
	defaultCanonicalClasses          = 1<<EnvelopeSender | 1<<EnvelopeRecipient | 1<<HeaderSender | 1<<HeaderRecipient
	defaultSenderCanonicalClasses    = 1<<EnvelopeSender | 1<<HeaderSender
	defaultRecipientCanonicalClasses = 1<<EnvelopeRecipient | 1<<HeaderRecipient
	defaultMasqueradeClasses         = 1<<EnvelopeSender | 1<<HeaderSender | 1<<HeaderRecipient
)

// hasClass reports whether c is in set, or in the default mask def when
// set is nil.
func hasClass(set map[Class]bool, c Class, def int) bool {
	if set == nil {
		return def&(1<<c) != 0
	}
	return set[c]
}

// ParseClasses parses the value of a class parameter such as
// canonical_classes ("envelope_sender, header_sender"). param names the
// parameter in the error for an unknown name. An empty value yields an
// empty, non-nil set.
func ParseClasses(param, value string) (map[Class]bool, error) {
	set := make(map[Class]bool)
	for _, name := range splitList(value) {
		c, ok := classByName(strings.ToLower(name))
		if !ok {
			return nil, fmt.Errorf("unknown %s value %q in %q", param, name, value)
		}
		set[c] = true
	}
	return set, nil
}

// propagateNames are the values propagate_unmatched_extensions accepts.
const propagateNames = "canonical virtual alias forward include generic"

// ParsePropagate parses propagate_unmatched_extensions into the set of
// feature names it lists.
func ParsePropagate(value string) (map[string]bool, error) {
	set := make(map[string]bool)
	for _, name := range splitList(value) {
		n := strings.ToLower(name)
		if !slices.Contains(strings.Fields(propagateNames), n) {
			return nil, fmt.Errorf("unknown propagate_unmatched_extensions value %q in %q", name, value)
		}
		set[n] = true
	}
	return set, nil
}

// splitList splits a parameter value at commas and whitespace.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\r' || r == '\n'
	})
}

// Kind classifies an Error.
type Kind int

// The kinds of Error. All of them make Postfix defer the message.
const (
	// KindLookup: a table could not be searched, or returned a result
	// with no address in it.
	KindLookup Kind = iota + 1
	// KindNesting: the recursion limit of virtual alias expansion
	// (virtual_alias_recursion_limit), or of canonical mapping (10), was
	// reached, as with a loop "a -> b, b -> a".
	KindNesting
	// KindExpansion: virtual alias expansion produced more than
	// virtual_alias_expansion_limit addresses.
	KindExpansion
	// KindLength: a virtual alias result is longer than
	// virtual_alias_address_length_limit.
	KindLength
)

// Error reports why an address could not be rewritten. Postfix never
// bounces for these: cleanup(8) refuses the message with a temporary
// error, and the client tries again later.
type Error struct {
	Kind  Kind
	Param string // the table parameter, e.g. "virtual_alias_maps"
	Addr  string // the address being rewritten
	Err   error  // the table's error, for KindLookup
}

// Error returns the text of cleanup(8)'s warning.
func (e *Error) Error() string {
	const tail = " -- message not accepted, try again later"
	switch e.Kind {
	case KindNesting:
		return fmt.Sprintf("unreasonable %s map nesting for %s%s", e.Param, e.Addr, tail)
	case KindExpansion:
		return fmt.Sprintf("unreasonable %s map expansion size for %s%s", e.Param, e.Addr, tail)
	case KindLength:
		return fmt.Sprintf("unreasonable %s result length for %s%s", e.Param, e.Addr, tail)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s map lookup problem for %s%s: %v", e.Param, e.Addr, tail, e.Err)
	}
	return fmt.Sprintf("%s map lookup problem for %s%s", e.Param, e.Addr, tail)
}

// Unwrap returns the table's error.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports true: every rewriting failure defers the message.
func (e *Error) Temporary() bool { return true }

// Status returns the SMTP reply code, enhanced status code and text that
// cleanup(8) reports for e.
func (e *Error) Status() (code int, dsn, text string) {
	if e.Param == "virtual_alias_maps" {
		return 451, "4.6.0", "Alias expansion error"
	}
	return 451, "4.3.0", "Error: queue file write error"
}
