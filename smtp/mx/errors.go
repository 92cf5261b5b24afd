package mx

import (
	"errors"
	"fmt"
)

// Error classes, for errors.Is on the errors LookupMX and LookupHost return.
var (
	// ErrNullMX: the domain publishes a null MX (RFC 7505): it accepts no
	// mail. Callers bounce with StatusNullMX.
	ErrNullMX = errors.New("null MX")
	// ErrNotFound: the name does not exist (NXDOMAIN), or it has no MX and
	// no address record, or no MX host has an address. Callers bounce with
	// StatusNotFound.
	ErrNotFound = errors.New("host or domain name not found")
	// ErrTemporary: SERVFAIL, time-outs, no name server reachable, a
	// truncated answer that TCP could not complete. Callers defer with
	// StatusTemporary.
	ErrTemporary = errors.New("temporary name service failure")
)

// Enhanced status codes for the error classes. pkg/reply has none of them.
const (
	// StatusNullMX is X.1.10 "Recipient address has null MX", RFC 7505
	// section 4 (registered in section 6).
	StatusNullMX = "5.1.10"
	// StatusNotFound is X.4.4 "Unable to route", RFC 3463 section 3.5.
	StatusNotFound = "5.4.4"
	// StatusSoftNotFound is StatusNotFound made temporary, as Postfix
	// defers with smtp_defer_if_no_mx_address_found.
	StatusSoftNotFound = "4.4.4"
	// StatusTemporary is X.4.3 "Directory server failure", RFC 3463
	// section 3.5.
	StatusTemporary = "4.4.3"
)

// Resolver error texts, as Postfix's dns_strerror words the h_errno values.
const (
	textHostNotFound = "Host not found"
	textTryAgain     = "Host not found, try again"
	textNoData       = "Host found but no data record of requested type"
)

// Error is a failed lookup. Its text is worded like Postfix's, for bounce
// and defer reasons and for the log.
type Error struct {
	Class error  // ErrNullMX, ErrNotFound or ErrTemporary
	Name  string // the name looked up, without the trailing dot
	Type  string // the record type looked up: "MX", "A", "AAAA"
	Text  string // the whole message
	Err   error  // the underlying cause (network error, rcode), or nil
	// Soft marks an ErrNotFound that defers the mail all the same: no MX
	// host has an address, with Resolver.DeferNoMXAddress.
	Soft bool
}

// Error returns the Postfix-style text.
func (e *Error) Error() string { return e.Text }

// Unwrap lets errors.Is match the class and the underlying cause.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Status returns the enhanced status code (RFC 3463) for the error class.
func (e *Error) Status() string {
	switch {
	case e.Class == ErrNullMX:
		return StatusNullMX
	case e.Class == ErrNotFound && e.Soft:
		return StatusSoftNotFound
	case e.Class == ErrNotFound:
		return StatusNotFound
	default:
		return StatusTemporary
	}
}

// Temporary reports whether the delivery should be deferred, not bounced.
func (e *Error) Temporary() bool { return e.Class == ErrTemporary || e.Soft }

// nameServiceError builds the error Postfix words as "Host or domain name
// not found. Name service error for name=N type=T: why".
func nameServiceError(class error, name, rrtype, why string, cause error) *Error {
	return &Error{
		Class: class,
		Name:  name,
		Type:  rrtype,
		Text: fmt.Sprintf("Host or domain name not found. "+
			"Name service error for name=%s type=%s: %s", name, rrtype, why),
		Err: cause,
	}
}

// nullMXError is Postfix's text for a domain with a null MX.
func nullMXError(name string) *Error {
	return &Error{
		Class: ErrNullMX,
		Name:  name,
		Type:  "MX",
		Text:  fmt.Sprintf("Domain %s does not accept mail (nullMX)", name),
	}
}

// worse returns the error that dominates when several lookups fail: as in
// Postfix, a temporary error dominates a permanent one, so that the
// delivery is deferred rather than bounced. Within a class the first error
// is kept.
func worse(old, cur *Error) *Error {
	if old == nil || (old.Class != ErrTemporary && cur.Class == ErrTemporary) {
		return cur
	}
	return old
}
