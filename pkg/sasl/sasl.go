// Package sasl is the server side of SMTP AUTH (RFC 4954) for tern's smtpd.
//
// smtpd talks to a Server without knowing the back end behind it: tern's
// own password tables (NewPasswordServer, the PLAIN and LOGIN mechanisms
// checked against crypt(3) hashes in a lookup table) or a Dovecot auth
// service (NewDovecotServer, Postfix's smtpd_sasl_type = dovecot).
//
// This package deals in decoded bytes: smtpd base64-decodes what the
// client sends and base64-encodes the challenges returned here. Errors are
// classified by the sentinel values below (test them with errors.Is) and
// ReplyFor turns any of them into the SMTP reply Postfix would send.
package sasl

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/tern-mta/tern/pkg/reply"
)

// Info describes the client, for the back end's logs and policies.
type Info struct {
	Service    string // SASL service name, "smtp" when empty
	LocalAddr  string // server side of the connection, "ip:port" or ""
	RemoteAddr string // client side of the connection, "ip:port" or ""
	Secured    bool   // TLS is active on the connection
}

// Server is one configured back end.
type Server interface {
	// Mechanisms lists the mechanisms the back end offers, such as PLAIN
	// and LOGIN, with their security properties; smtpd announces those
	// that its security options allow. secured tells whether TLS is
	// active.
	Mechanisms(ctx context.Context, secured bool) ([]Mechanism, error)
	// Start begins an exchange for mech. initial is the RFC 4954 initial
	// response: nil if none was given, an empty slice for "=".
	Start(ctx context.Context, mech string, initial []byte, info Info) (Exchange, error)
	// Close releases the back end's resources, including the connections
	// of exchanges still under way.
	Close() error
}

// Exchange is one authentication conversation.
//
// The first call to Next starts the conversation. smtpd passes the initial
// response again there (or nil when there was none); a nil response on
// the first call falls back to the initial response given to Start. Each
// call returns either a challenge to send in a 334 reply, or done=true
// with the authenticated user name, or an error. Once done or failed, the
// exchange is finished and further calls fail.
//
// An exchange that the client abandons (a "*" response, a lost
// connection) must be released with Abort.
type Exchange interface {
	Next(ctx context.Context, response []byte) (challenge []byte, done bool, user string, err error)
}

// Abort releases an exchange that will not be finished, for example when
// the client answered a challenge with "*". It is safe to call on any
// exchange, finished or not.
func Abort(ex Exchange) error {
	if c, ok := ex.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Error classes. Every error this package returns matches exactly one of
// them with errors.Is; ReplyFor maps them to SMTP replies.
var (
	// ErrAuthFailed means the credentials were rejected (535 5.7.8).
	// Unknown users and wrong passwords are not told apart.
	ErrAuthFailed = errors.New("authentication failed")
	// ErrTemporary means the back end could not decide, for example a
	// lookup table or the Dovecot service failed (454 4.7.0).
	ErrTemporary = errors.New("temporary authentication failure")
	// ErrUnsupportedMech means the mechanism is not offered (504 5.5.4).
	ErrUnsupportedMech = errors.New("unsupported authentication mechanism")
	// ErrMalformed means the client sent something that cannot be
	// decoded (501 5.5.2).
	ErrMalformed = errors.New("malformed authentication response")
	// ErrAborted means the client cancelled the exchange with "*"
	// (RFC 4954 section 4; 501 5.7.0). smtpd detects that itself and may
	// use this value to get the reply from ReplyFor.
	ErrAborted = errors.New("authentication aborted")
)

// Error is a failure with a reason that may be shown to the client and a
// cause that is only for the log.
type Error struct {
	Kind   error  // one of the Err... class values above
	Reason string // safe to send to the client; "" for the standard text
	Err    error  // underlying cause for the log; may be nil
}

// Error returns the class, the reason and the cause, for logging. It may
// name the user and must not be sent to the client; use ReplyFor.
func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the class and the cause so that errors.Is matches both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// newError builds an *Error of class kind.
func newError(kind error, reason string, cause error) error {
	return &Error{Kind: kind, Reason: reason, Err: cause}
}

// Default reasons, used in replies when an error carries none.
const (
	defaultFailReason = "authentication failure"
	defaultTempReason = "internal error"
	maxReasonLen      = 100
)

// ReplyFor returns the SMTP reply for the outcome of an exchange: 235 for
// nil, else the reply for the error's class, with the wording Postfix's
// smtpd uses. An error of no known class is treated as temporary.
func ReplyFor(err error) reply.Reply {
	switch {
	case err == nil:
		// RFC 4954 section 6.
		return reply.New(reply.CodeAuthOK, reply.StatusAuthOK, "Authentication successful")
	case errors.Is(err, ErrAborted):
		// RFC 4954 section 4: "*" cancels with a 501 reply.
		return reply.New(reply.CodeSyntaxParams, reply.StatusPolicy, "Authentication aborted")
	case errors.Is(err, ErrMalformed):
		// RFC 4954 section 4: undecodable responses get a 501 reply.
		return reply.New(reply.CodeSyntaxParams, reply.StatusSyntax, "Cannot decode response")
	case errors.Is(err, ErrUnsupportedMech):
		return reply.New(reply.CodeParamNotImpl, reply.StatusBadParams, "Unsupported authentication mechanism")
	case errors.Is(err, ErrAuthFailed):
		return reply.New(reply.CodeAuthInvalid, reply.StatusAuthInvalid,
			"Error: authentication failed: %s", reasonOf(err, defaultFailReason))
	case errors.Is(err, ErrTemporary):
		return reply.New(reply.CodeTempAuthFailure, reply.StatusTempAuth,
			"Temporary authentication failure: %s", reasonOf(err, defaultTempReason))
	default:
		return reply.New(reply.CodeTempAuthFailure, reply.StatusTempAuth,
			"Temporary authentication failure: %s", defaultTempReason)
	}
}

// reasonOf returns the client-safe reason carried by err, made printable
// and short, or def.
func reasonOf(err error, def string) string {
	var e *Error
	if !errors.As(err, &e) || e.Reason == "" {
		return def
	}
	return printable(e.Reason, maxReasonLen)
}

// printable replaces anything but printable ASCII by '?' and cuts s to
// max bytes.
func printable(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r > '~' {
			return '?'
		}
		return r
	}, s)
}
