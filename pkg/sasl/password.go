package sasl

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/tern-mta/tern/pkg/maps"
)

// Mechanism names (RFC 4616 for PLAIN; LOGIN is the de facto mechanism of
// draft-murchison-sasl-login).
const (
	MechPlain = "PLAIN"
	MechLogin = "LOGIN"
)

// maxPasswordLen bounds the passwords that are hashed: SHA-crypt's cost
// grows with the square of the password length.
const maxPasswordLen = 1024

// hashKind is a supported password hash format.
type hashKind int

const (
	hashSHA256Crypt hashKind = iota + 1
	hashSHA512Crypt
	hashBcrypt
)

// storedHash is a parsed password hash from a table.
type storedHash struct {
	kind  hashKind
	sha   shaCryptHash // for the SHA-crypt kinds
	crypt string       // the crypt(3) string without any {SCHEME} prefix
}

// schemes maps Dovecot's {SCHEME} prefixes to the hash kinds they may
// hold; "CRYPT" holds any crypt(3) format.
var schemes = map[string][]hashKind{
	"SHA512-CRYPT": {hashSHA512Crypt},
	"SHA256-CRYPT": {hashSHA256Crypt},
	"BLF-CRYPT":    {hashBcrypt},
	"CRYPT":        {hashSHA512Crypt, hashSHA256Crypt, hashBcrypt},
}

// parseStoredHash parses a table value: a crypt(3) string
// ("$6$...", "$5$...", "$2a$/$2b$/$2y$..."), optionally behind a
// Dovecot scheme prefix such as "{SHA512-CRYPT}" or "{BLF-CRYPT}".
func parseStoredHash(s string) (storedHash, error) {
	s = strings.TrimSpace(s)
	var allowed []hashKind
	if strings.HasPrefix(s, "{") {
		name, rest, ok := strings.Cut(s[1:], "}")
		if !ok {
			return storedHash{}, fmt.Errorf("password hash: unterminated scheme prefix")
		}
		allowed, ok = schemes[strings.ToUpper(name)]
		if !ok {
			return storedHash{}, fmt.Errorf("password hash: unsupported scheme {%s}", printable(name, 32))
		}
		s = rest
	}
	h := storedHash{crypt: s}
	switch {
	case strings.HasPrefix(s, "$6$"), strings.HasPrefix(s, "$5$"):
		sha, err := parseShaCrypt(s)
		if err != nil {
			return storedHash{}, err
		}
		if sha.sum == "" {
			return storedHash{}, fmt.Errorf("password hash: SHA-crypt setting without digest")
		}
		h.sha, h.kind = sha, hashSHA256Crypt
		if sha.v == sha512Crypt {
			h.kind = hashSHA512Crypt
		}
	case isBcrypt(s):
		h.kind = hashBcrypt
	default:
		return storedHash{}, fmt.Errorf("password hash: unsupported format")
	}
	if allowed != nil && !containsKind(allowed, h.kind) {
		return storedHash{}, fmt.Errorf("password hash: format does not match its scheme prefix")
	}
	return h, nil
}

// isBcrypt reports whether s looks like "$2a$NN$" + 53 characters (also
// "$2b$" and "$2y$").
func isBcrypt(s string) bool {
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return false
	}
	if !strings.ContainsRune("aby", rune(s[2])) || s[4] < '0' || s[4] > '3' || s[5] < '0' || s[5] > '9' {
		return false
	}
	for _, r := range s[7:] {
		if !strings.ContainsRune(cryptAlphabet, r) {
			return false
		}
	}
	return true
}

func containsKind(list []hashKind, k hashKind) bool {
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}

// CheckPassword verifies password against a stored hash (see
// NewPasswordServer for the formats). It returns nil on a match, an error
// matching ErrAuthFailed on a mismatch, and one matching ErrTemporary when
// the stored hash cannot be used or ctx ends first.
func CheckPassword(ctx context.Context, stored string, password []byte) error {
	h, err := parseStoredHash(stored)
	if err != nil {
		return newError(ErrTemporary, "", err)
	}
	if len(password) > maxPasswordLen {
		return newError(ErrAuthFailed, "", fmt.Errorf("password longer than %d bytes", maxPasswordLen))
	}
	switch h.kind {
	case hashBcrypt:
		err := bcrypt.CompareHashAndPassword([]byte(h.crypt), password)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return newError(ErrAuthFailed, "", errors.New("password mismatch"))
		default:
			return newError(ErrTemporary, "", fmt.Errorf("password hash: %w", err))
		}
	default:
		got, err := shaCrypt(ctx, h.sha, password)
		if err != nil {
			return newError(ErrTemporary, "", fmt.Errorf("password hash: %w", err))
		}
		if subtle.ConstantTimeCompare([]byte(got.sum), []byte(h.sha.sum)) != 1 {
			return newError(ErrAuthFailed, "", errors.New("password mismatch"))
		}
		return nil
	}
}

// unknownUserHash is hashed for unknown users, so that they take as long
// to reject as known users with a default SHA512-CRYPT hash. No password
// is known to match it.
const unknownUserHash = "$6$tern.unknown.usr$vcMJ5igp6hFz/jzyTB7FeBNmwWQoWsqQ1sleaIC7p3AfaX21lHode61ctBfwq/aW0WOqtKxM4JpvKmeS3ggHs0"

// passwordServer is tern's own back end: a table of user → hash.
type passwordServer struct {
	m maps.Map
}

// NewPasswordServer returns a back end that checks PLAIN and LOGIN
// credentials against m, a lookup table mapping a user name to a password
// hash: SHA-512-crypt "$6$[rounds=N$]salt$digest", SHA-256-crypt "$5$...",
// or bcrypt "$2a$/$2b$/$2y$...", each optionally behind the
// {SHA512-CRYPT}, {SHA256-CRYPT}, {BLF-CRYPT} or {CRYPT} prefix that
// Dovecot's tools write. Unknown users and wrong passwords both fail with
// ErrAuthFailed; a table that cannot be searched, or a hash that cannot be
// used, gives ErrTemporary. The server does not close m.
func NewPasswordServer(m maps.Map) Server {
	return &passwordServer{m: m}
}

// Mechanisms returns PLAIN and LOGIN, both plaintext. Whether they may be
// offered without TLS (smtpd_tls_auth_only, smtpd_sasl_security_options)
// is for smtpd to decide.
func (s *passwordServer) Mechanisms(ctx context.Context, secured bool) ([]Mechanism, error) {
	return []Mechanism{{MechPlain, PropPlaintext}, {MechLogin, PropPlaintext}}, nil
}

// Start begins a PLAIN or LOGIN exchange (mechanism names are matched
// without regard to case).
func (s *passwordServer) Start(ctx context.Context, mech string, initial []byte, info Info) (Exchange, error) {
	switch strings.ToUpper(mech) {
	case MechPlain:
		return &plainExchange{verify: s.verify, initial: initial}, nil
	case MechLogin:
		return &loginExchange{verify: s.verify, initial: initial}, nil
	default:
		return nil, newError(ErrUnsupportedMech, "", fmt.Errorf("mechanism %q", printable(mech, 32)))
	}
}

// Close does nothing: the table belongs to the caller.
func (s *passwordServer) Close() error { return nil }

// verify checks user's password against the table.
func (s *passwordServer) verify(ctx context.Context, user string, password []byte) error {
	stored, found, err := s.m.Lookup(user)
	if err != nil {
		return newError(ErrTemporary, "", fmt.Errorf("look up %q in %s: %w", user, s.m.Name(), err))
	}
	if !found {
		_ = CheckPassword(ctx, unknownUserHash, password) // same work as a known user
		return newError(ErrAuthFailed, "", fmt.Errorf("user %q: unknown user", user))
	}
	if err := CheckPassword(ctx, stored, password); err != nil {
		return fmt.Errorf("user %q in %s: %w", user, s.m.Name(), err)
	}
	return nil
}
