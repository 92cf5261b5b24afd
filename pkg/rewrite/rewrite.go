// Package rewrite implements the address rewriting that Postfix's cleanup(8)
// daemon applies before a message is queued: canonical mapping
// (canonical(5): canonical_maps, sender_canonical_maps,
// recipient_canonical_maps), address masquerading (masquerade_domains,
// masquerade_exceptions, masquerade_classes) and virtual alias expansion
// (virtual(5): virtual_alias_maps).
//
// Addresses are handled in the form in which they appear on the wire
// (RFC 5321/5322 "external" form): a quoted local part stays quoted, and is
// looked up as given. Tables fold the case of keys themselves; results keep
// the case of the table.
//
// Every failure this package reports is temporary in Postfix: the message is
// not accepted and the client is asked to try again later ("451 4.6.0 Alias
// expansion error" for virtual alias expansion, "451 4.3.0" otherwise). A
// table that cannot be searched is never treated as "not found".
package rewrite

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// Postfix defaults for the limits of virtual alias expansion.
const (
	DefaultRecursionLimit     = 1000 // virtual_alias_recursion_limit
	DefaultExpansionLimit     = 1000 // virtual_alias_expansion_limit
	DefaultAddressLengthLimit = 1000 // virtual_alias_address_length_limit
)

// canonicalNesting is how often cleanup(8) applies a canonical table to its
// own result before giving up (MAX_RECURSION in cleanup_map11.c).
const canonicalNesting = 10

// Settings holds the tables and parameters of cleanup's address rewriting.
// The zero value rewrites nothing. Nil class sets and a nil
// PropagateUnmatched mean the Postfix defaults; an empty non-nil set means
// "none". Settings is safe for concurrent use when its tables and
// functions are.
type Settings struct {
	// Canonical, SenderCanonical and RecipientCanonical are canonical_maps,
	// sender_canonical_maps and recipient_canonical_maps.
	Canonical, SenderCanonical, RecipientCanonical []maps.Map
	// VirtualAlias is virtual_alias_maps.
	VirtualAlias []maps.Map
	// AlwaysBCC, SenderBCC and RecipientBCC are always_bcc,
	// sender_bcc_maps and recipient_bcc_maps (bcc.go).
	AlwaysBCC               string
	SenderBCC, RecipientBCC []maps.Map
	// Generic is smtp_generic_maps, which the smtp agent applies to
	// outgoing mail (generic.go); cleanup leaves it alone.
	Generic []maps.Map

	// CanonicalClasses, SenderCanonicalClasses, RecipientCanonicalClasses
	// and MasqueradeClasses say which addresses each feature rewrites
	// (canonical_classes, sender_canonical_classes,
	// recipient_canonical_classes, masquerade_classes).
	CanonicalClasses, SenderCanonicalClasses, RecipientCanonicalClasses, MasqueradeClasses map[Class]bool

	// MasqueradeDomains is masquerade_domains in order, "!domain" included.
	MasqueradeDomains []string
	// MasqueradeExceptions holds the lower-case user names of
	// masquerade_exceptions; MasqueradeExceptionMaps its tables.
	MasqueradeExceptions    map[string]bool
	MasqueradeExceptionMaps []maps.Map

	// RecursionLimit, ExpansionLimit and AddressLengthLimit are
	// virtual_alias_recursion_limit, virtual_alias_expansion_limit and
	// virtual_alias_address_length_limit; 0 means the Postfix default.
	RecursionLimit, ExpansionLimit, AddressLengthLimit int

	// RecipientDelimiter is recipient_delimiter: the characters, any of
	// which separates a user name from an address extension. Empty: no
	// extensions.
	RecipientDelimiter string
	// DoubleBounceSender is double_bounce_sender, whose local part is never
	// split at the delimiter ("" means "double-bounce").
	DoubleBounceSender string
	// PropagateUnmatched is propagate_unmatched_extensions: the names
	// ("canonical", "virtual", ...) of the lookups that put an unmatched
	// extension back into their result.
	PropagateUnmatched map[string]bool

	// LocalDomains reports whether a domain is this machine's ($myorigin,
	// $mydestination, $inet_interfaces, $proxy_interfaces); only then are
	// the "user" forms of a table searched. Nil: no domain is local.
	LocalDomains func(domain string) (bool, error)
	// Qualify completes a table result as trivial-rewrite would (for
	// example "user" becomes "user@$myorigin"). Nil: results stay as given.
	Qualify func(addr string) string
	// Warn receives warnings, such as a multi-valued canonical entry.
	// Nil: warnings are dropped.
	Warn func(msg string)

	closers []func() error
}

// Sender rewrites an envelope sender address: sender_canonical_maps, then
// canonical_maps, then masquerading, each when its classes include
// envelope_sender. The empty (null) sender is returned unchanged.
func (s *Settings) Sender(addr string) (string, error) {
	return s.rewrite(addr, EnvelopeSender)
}

// Recipient rewrites an envelope recipient address:
// recipient_canonical_maps, then canonical_maps, then masquerading, each
// when its classes include envelope_recipient. Virtual alias expansion is
// separate (ExpandVirtual, or ExpandRecipient for both).
func (s *Settings) Recipient(addr string) (string, error) {
	return s.rewrite(addr, EnvelopeRecipient)
}

// ExpandRecipient applies Recipient and then ExpandVirtual, in the order of
// cleanup(8).
func (s *Settings) ExpandRecipient(addr string) ([]string, error) {
	a, err := s.Recipient(addr)
	if err != nil {
		return nil, err
	}
	return s.ExpandVirtual(a)
}

// rewrite applies canonical mapping and masquerading for class c.
func (s *Settings) rewrite(addr string, c Class) (string, error) {
	if addr == "" {
		return "", nil
	}
	var err error
	if c.isSender() {
		if len(s.SenderCanonical) > 0 && hasClass(s.SenderCanonicalClasses, c, defaultSenderCanonicalClasses) {
			if addr, err = s.canonical(s.SenderCanonical, "sender_canonical_maps", addr); err != nil {
				return addr, err
			}
		}
	} else if len(s.RecipientCanonical) > 0 && hasClass(s.RecipientCanonicalClasses, c, defaultRecipientCanonicalClasses) {
		if addr, err = s.canonical(s.RecipientCanonical, "recipient_canonical_maps", addr); err != nil {
			return addr, err
		}
	}
	if len(s.Canonical) > 0 && hasClass(s.CanonicalClasses, c, defaultCanonicalClasses) {
		if addr, err = s.canonical(s.Canonical, "canonical_maps", addr); err != nil {
			return addr, err
		}
	}
	if len(s.MasqueradeDomains) > 0 && hasClass(s.MasqueradeClasses, c, defaultMasqueradeClasses) {
		return s.Masquerade(addr)
	}
	return addr, nil
}

// canonical applies one canonical table list to addr, again to its result,
// until an address maps to itself or is not found, as cleanup_map11 does.
// A multi-valued result keeps its first address.
func (s *Settings) canonical(ms []maps.Map, param, addr string) (string, error) {
	propagate := s.propagates("canonical")
	for i := 0; i < canonicalNesting; i++ {
		res, found, err := s.mapAddr(ms, param, addr, propagate)
		if err != nil || !found {
			return addr, err
		}
		if len(res) > 1 {
			s.warn(fmt.Sprintf("multi-valued %s entry for %s", param, addr))
		}
		prev := addr
		addr = res[0]
		if strings.EqualFold(prev, addr) {
			return addr, nil
		}
	}
	return addr, &Error{Kind: KindNesting, Param: param, Addr: addr}
}

// propagates reports whether propagate_unmatched_extensions names feature.
func (s *Settings) propagates(feature string) bool {
	if s.PropagateUnmatched == nil {
		return feature == "canonical" || feature == "virtual"
	}
	return s.PropagateUnmatched[feature]
}

func (s *Settings) warn(msg string) {
	if s.Warn != nil {
		s.Warn(msg)
	}
}

// limit returns v, or def when v is not positive.
func limit(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// Close closes every table the Settings hold and whatever FromConfig
// opened for them, and returns the first error.
func (s *Settings) Close() error {
	var first error
	for _, list := range [][]maps.Map{s.Canonical, s.SenderCanonical, s.RecipientCanonical, s.VirtualAlias,
		s.MasqueradeExceptionMaps, s.SenderBCC, s.RecipientBCC, s.Generic} {
		if err := maps.CloseAll(list); err != nil && first == nil {
			first = err
		}
	}
	for _, c := range s.closers {
		if err := c(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
