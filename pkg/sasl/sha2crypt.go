package sasl

// SHA-256-crypt ("$5$") and SHA-512-crypt ("$6$") as specified by Ulrich
// Drepper in "Unix crypt using SHA-256 and SHA-512" (the algorithm of
// glibc's crypt(3), Dovecot's SHA256-CRYPT/SHA512-CRYPT and
// "openssl passwd -5/-6"). The digest names in comments (A, B, DP, DS, C)
// are the specification's.

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// Limits from the specification.
const (
	shaCryptRoundsDefault = 5000
	shaCryptRoundsMin     = 1000
	shaCryptRoundsMax     = 999999999
	shaCryptSaltMax       = 16
	shaCryptRoundsPrefix  = "rounds="
)

// cryptAlphabet is the base-64 alphabet of crypt(3) strings.
const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// shaCryptVariant is one of the two algorithms of the specification.
type shaCryptVariant struct {
	id      string // "$5$" or "$6$"
	newHash func() hash.Hash
	size    int      // digest size in bytes
	order   [][3]int // byte triples in output order
	encLen  int      // length of the encoded digest
}

var sha256Crypt = &shaCryptVariant{
	id:      "$5$",
	newHash: sha256.New,
	size:    sha256.Size,
	order: [][3]int{
		{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29},
	},
	encLen: 43,
}

var sha512Crypt = &shaCryptVariant{
	id:      "$6$",
	newHash: sha512.New,
	size:    sha512.Size,
	order: [][3]int{
		{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51},
		{31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35},
		{15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19},
		{62, 20, 41},
	},
	encLen: 86,
}

// shaCryptHash is a parsed "$5$" or "$6$" string.
type shaCryptHash struct {
	v           *shaCryptVariant
	rounds      int    // clamped to the specification's limits
	roundsGiven bool   // "rounds=N$" was present and is repeated in the output
	salt        string // at most 16 characters
	sum         string // the encoded digest; "" in a bare setting
}

// parseShaCrypt parses "$5$[rounds=N$]salt[$digest]". As in the
// specification the salt ends at the first "$" and is cut to 16
// characters; the rounds are clamped to [1000, 999999999]. The digest,
// when present, must have the variant's length and alphabet.
func parseShaCrypt(s string) (shaCryptHash, error) {
	var h shaCryptHash
	switch {
	case strings.HasPrefix(s, sha512Crypt.id):
		h.v = sha512Crypt
	case strings.HasPrefix(s, sha256Crypt.id):
		h.v = sha256Crypt
	default:
		return h, fmt.Errorf("not a SHA-crypt hash")
	}
	rest := s[len(h.v.id):]
	h.rounds = shaCryptRoundsDefault
	if strings.HasPrefix(rest, shaCryptRoundsPrefix) {
		num, tail, ok := strings.Cut(rest[len(shaCryptRoundsPrefix):], "$")
		if !ok {
			return h, fmt.Errorf("SHA-crypt hash: no \"$\" after rounds")
		}
		n, err := parseRounds(num)
		if err != nil {
			return h, err
		}
		h.rounds, h.roundsGiven, rest = n, true, tail
	}
	salt, sum, _ := strings.Cut(rest, "$")
	if len(salt) > shaCryptSaltMax {
		salt = salt[:shaCryptSaltMax]
	}
	h.salt, h.sum = salt, sum
	if sum != "" {
		if len(sum) != h.v.encLen {
			return h, fmt.Errorf("SHA-crypt hash: digest has %d characters, want %d", len(sum), h.v.encLen)
		}
		if i := strings.IndexFunc(sum, func(r rune) bool { return !strings.ContainsRune(cryptAlphabet, r) }); i >= 0 {
			return h, fmt.Errorf("SHA-crypt hash: invalid character in digest")
		}
	}
	return h, nil
}

// parseRounds reads the decimal N of "rounds=N$" and clamps it.
func parseRounds(num string) (int, error) {
	if num == "" || strings.Trim(num, "0123456789") != "" {
		return 0, fmt.Errorf("SHA-crypt hash: invalid rounds %q", num)
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > shaCryptRoundsMax {
		return shaCryptRoundsMax, nil // too large to parse: the maximum
	}
	return max(int(n), shaCryptRoundsMin), nil
}

// String returns the hash in crypt(3) form, "$6$[rounds=N$]salt$digest".
func (h shaCryptHash) String() string {
	var b strings.Builder
	b.WriteString(h.v.id)
	if h.roundsGiven {
		fmt.Fprintf(&b, "%s%d$", shaCryptRoundsPrefix, h.rounds)
	}
	b.WriteString(h.salt)
	b.WriteByte('$')
	b.WriteString(h.sum)
	return b.String()
}

// shaCrypt hashes password with the parameters of h and returns h with
// its digest set. It stops early, with ctx's error, when ctx is done.
func shaCrypt(ctx context.Context, h shaCryptHash, password []byte) (shaCryptHash, error) {
	v, salt := h.v, []byte(h.salt)
	md := v.newHash()

	// Digest B of password, salt, password.
	md.Write(password)
	md.Write(salt)
	md.Write(password)
	b := md.Sum(nil)

	// Digest A: password, salt, then B as long as the password, then B or
	// the password for each bit of the password's length.
	md.Reset()
	md.Write(password)
	md.Write(salt)
	for n := len(password); n > 0; n -= v.size {
		md.Write(b[:min(n, v.size)])
	}
	for n := len(password); n > 0; n >>= 1 {
		if n&1 != 0 {
			md.Write(b)
		} else {
			md.Write(password)
		}
	}
	a := md.Sum(nil)

	// Byte sequence P from digest DP of the password repeated.
	md.Reset()
	for range len(password) {
		md.Write(password)
	}
	p := repeatTo(md.Sum(nil), len(password))

	// Byte sequence S from digest DS of the salt repeated 16+A[0] times.
	md.Reset()
	for range 16 + int(a[0]) {
		md.Write(salt)
	}
	s := repeatTo(md.Sum(nil), len(salt))

	// The rounds, each producing a new digest C.
	c := a
	for i := range h.rounds {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return h, err
			}
		}
		md.Reset()
		if i&1 != 0 {
			md.Write(p)
		} else {
			md.Write(c)
		}
		if i%3 != 0 {
			md.Write(s)
		}
		if i%7 != 0 {
			md.Write(p)
		}
		if i&1 != 0 {
			md.Write(c)
		} else {
			md.Write(p)
		}
		c = md.Sum(c[:0])
	}
	h.sum = encodeShaCrypt(v, c)
	return h, nil
}

// repeatTo returns digest repeated to n bytes (sequences P and S).
func repeatTo(digest []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, digest[:min(len(digest), n-len(out))]...)
	}
	return out
}

// encodeShaCrypt encodes the final digest: groups of three bytes
// in the variant's order, each as four characters, least significant six
// bits first, then the remaining byte(s).
func encodeShaCrypt(v *shaCryptVariant, c []byte) string {
	out := make([]byte, 0, v.encLen)
	for _, t := range v.order {
		out = appendCrypt64(out, c[t[0]], c[t[1]], c[t[2]], 4)
	}
	if v.size == sha512.Size {
		out = appendCrypt64(out, 0, 0, c[63], 2)
	} else {
		out = appendCrypt64(out, 0, c[31], c[30], 3)
	}
	return string(out)
}

// appendCrypt64 appends n characters for the 24-bit value b2:b1:b0.
func appendCrypt64(out []byte, b2, b1, b0 byte, n int) []byte {
	w := uint32(b2)<<16 | uint32(b1)<<8 | uint32(b0)
	for range n {
		out = append(out, cryptAlphabet[w&0x3f])
		w >>= 6
	}
	return out
}
