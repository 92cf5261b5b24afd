package sasl

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestReplyFor(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"success", nil, "235 2.7.0 Authentication successful"},
		{"failed", ErrAuthFailed, "535 5.7.8 Error: authentication failed: authentication failure"},
		{"failed wrapped", fmt.Errorf("user x: %w", newError(ErrAuthFailed, "", errors.New("password mismatch"))),
			"535 5.7.8 Error: authentication failed: authentication failure"},
		{"failed with reason", newError(ErrAuthFailed, "Password expired", nil),
			"535 5.7.8 Error: authentication failed: Password expired"},
		{"reason made printable", newError(ErrAuthFailed, "bad\r\nthing\x00é", nil),
			"535 5.7.8 Error: authentication failed: bad??thing??"},
		{"temporary", ErrTemporary, "454 4.7.0 Temporary authentication failure: internal error"},
		{"temporary with reason", newError(ErrTemporary, reasonConnect, errors.New("dial: no such file")),
			"454 4.7.0 Temporary authentication failure: cannot connect to authentication server"},
		{"unsupported", newError(ErrUnsupportedMech, "", nil), "504 5.5.4 Unsupported authentication mechanism"},
		{"malformed", ErrMalformed, "501 5.5.2 Cannot decode response"},
		{"aborted", ErrAborted, "501 5.7.0 Authentication aborted"},
		{"unknown error", errors.New("boom"), "454 4.7.0 Temporary authentication failure: internal error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ReplyFor(tc.err).String(); got != tc.want {
				t.Errorf("ReplyFor(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
	long := newError(ErrAuthFailed, strings.Repeat("r", 500), nil)
	if n := len(ReplyFor(long).Text); n > 150 {
		t.Errorf("reply text with a long reason has %d bytes", n)
	}
}

func TestErrorClasses(t *testing.T) {
	cause := errors.New("cause")
	e := newError(ErrTemporary, "why", cause)
	if !errors.Is(e, ErrTemporary) || !errors.Is(e, cause) || errors.Is(e, ErrAuthFailed) {
		t.Errorf("errors.Is on %v does not match its class and cause only", e)
	}
	if got := e.Error(); got != "temporary authentication failure: why: cause" {
		t.Errorf("Error() = %q", got)
	}
}

type closingExchange struct {
	Exchange
	closed int
}

func (c *closingExchange) Close() error { c.closed++; return nil }

func TestAbort(t *testing.T) {
	ce := &closingExchange{}
	if err := Abort(ce); err != nil || ce.closed != 1 {
		t.Errorf("Abort: err %v, closed %d times", err, ce.closed)
	}
	if err := Abort(&plainExchange{}); err != nil {
		t.Errorf("Abort on an exchange without Close: %v", err)
	}
}
