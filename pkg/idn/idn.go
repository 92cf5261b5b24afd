// Package idn turns UTF-8 domain names into the ASCII form (xn-- labels)
// that DNS and domain comparisons use, as Postfix does for SMTPUTF8 mail
// (RFC 5891 section 5).
package idn

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// The profiles: IDNA2008 with UTS #46's lookup mapping, or its
// transitional form (enable_idna2003_compatibility: sharp s as "ss").
var (
	idna2008 = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false))
	idna2003 = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(true))
)

// ToASCII returns the ASCII form of domain, lower-cased; an ASCII name is
// returned as it is. ok is false when a UTF-8 name has no ASCII form
// (invalid UTF-8, a disallowed character). A leading dot (".example",
// a parent-domain pattern) is kept.
func ToASCII(domain string, transitional bool) (ascii string, ok bool) {
	if IsASCII(domain) {
		return domain, true
	}
	if !utf8.ValidString(domain) {
		return domain, false
	}
	rest, dot := strings.CutPrefix(domain, ".")
	profile := idna2008
	if transitional {
		profile = idna2003
	}
	a, err := profile.ToASCII(rest)
	if err != nil {
		return domain, false
	}
	if dot {
		a = "." + a
	}
	return strings.ToLower(a), true
}

// IsASCII reports whether s has only ASCII bytes.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
