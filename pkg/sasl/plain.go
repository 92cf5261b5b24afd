package sasl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// maxIdentityLen bounds authzid and authcid. RFC 4616 section 2 requires
// servers to accept at least 255 octets.
const maxIdentityLen = 1024

// LOGIN challenges, sent base64-encoded by smtpd.
const (
	loginUserChallenge     = "Username:"
	loginPasswordChallenge = "Password:"
)

// errFinished is returned by Next after the exchange ended.
var errFinished = errors.New("sasl: exchange already finished")

// ParsePlain splits a PLAIN message (RFC 4616 section 2),
// [authzid] NUL authcid NUL passwd. authcid and passwd must not be empty,
// the identities must be UTF-8. Errors match ErrMalformed.
func ParsePlain(msg []byte) (authzid, authcid string, passwd []byte, err error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 {
		return "", "", nil, newError(ErrMalformed, "", fmt.Errorf("PLAIN: %d NUL separators, want 2", len(parts)-1))
	}
	for i, what := range []string{"authorization identity", "authentication identity", "password"} {
		if len(parts[i]) > maxIdentityLen || (i == 2 && len(parts[i]) > maxPasswordLen) {
			return "", "", nil, newError(ErrMalformed, "", fmt.Errorf("PLAIN: %s too long", what))
		}
		if i > 0 && len(parts[i]) == 0 {
			return "", "", nil, newError(ErrMalformed, "", fmt.Errorf("PLAIN: empty %s", what))
		}
		if i < 2 && !utf8.Valid(parts[i]) {
			return "", "", nil, newError(ErrMalformed, "", fmt.Errorf("PLAIN: %s is not UTF-8", what))
		}
	}
	return string(parts[0]), string(parts[1]), parts[2], nil
}

// verifyFunc checks a user's password; it returns nil when they match.
type verifyFunc func(ctx context.Context, user string, password []byte) error

// plainExchange is the server side of PLAIN: an empty challenge when the
// client gave no initial response, then one message.
type plainExchange struct {
	verify  verifyFunc
	initial []byte
	step    int // 0: not started, 1: challenge sent, 2: finished
}

// Next implements Exchange.
func (e *plainExchange) Next(ctx context.Context, response []byte) ([]byte, bool, string, error) {
	switch e.step {
	case 0:
		if response == nil {
			response = e.initial
		}
		if response == nil {
			e.step = 1
			return []byte{}, false, "", nil
		}
	case 1:
	default:
		return nil, false, "", errFinished
	}
	e.step = 2
	authzid, authcid, passwd, err := ParsePlain(response)
	if err != nil {
		return nil, false, "", err
	}
	if authzid != "" && authzid != authcid {
		return nil, false, "", newError(ErrAuthFailed, "",
			fmt.Errorf("PLAIN: user %q may not act as %q", authcid, authzid))
	}
	if err := e.verify(ctx, authcid, passwd); err != nil {
		return nil, false, "", err
	}
	return nil, true, authcid, nil
}

// loginExchange is the server side of LOGIN: "Username:", "Password:". An
// initial response, which some clients send, is the user name.
type loginExchange struct {
	verify  verifyFunc
	initial []byte
	user    string
	step    int // 0: not started, 1: user asked, 2: password asked, 3: finished
}

// Next implements Exchange.
func (e *loginExchange) Next(ctx context.Context, response []byte) ([]byte, bool, string, error) {
	switch e.step {
	case 0:
		if response == nil {
			response = e.initial
		}
		if len(response) == 0 {
			e.step = 1
			return []byte(loginUserChallenge), false, "", nil
		}
		return e.takeUser(response)
	case 1:
		return e.takeUser(response)
	case 2:
		e.step = 3
		if len(response) > maxPasswordLen {
			return nil, false, "", newError(ErrMalformed, "", errors.New("LOGIN: password too long"))
		}
		if err := e.verify(ctx, e.user, response); err != nil {
			return nil, false, "", err
		}
		return nil, true, e.user, nil
	default:
		return nil, false, "", errFinished
	}
}

// takeUser records the user name and asks for the password.
func (e *loginExchange) takeUser(name []byte) ([]byte, bool, string, error) {
	if len(name) == 0 || len(name) > maxIdentityLen || !utf8.Valid(name) || bytes.IndexByte(name, 0) >= 0 {
		e.step = 3
		return nil, false, "", newError(ErrMalformed, "", errors.New("LOGIN: invalid user name"))
	}
	e.user, e.step = string(name), 2
	return []byte(loginPasswordChallenge), false, "", nil
}
