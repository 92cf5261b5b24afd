package sasl

import (
	"errors"
	"strings"
	"testing"
)

func TestParsePlain(t *testing.T) {
	long := strings.Repeat("u", maxIdentityLen+1)
	tests := []struct {
		name, msg                string
		authzid, authcid, passwd string
		ok                       bool
	}{
		{"no authzid", "\x00alice\x00secret", "", "alice", "secret", true},
		{"authzid", "admin\x00alice\x00secret", "admin", "alice", "secret", true},
		{"utf8 identity", "\x00jürgen@example.org\x00pw", "", "jürgen@example.org", "pw", true},
		{"spaces in password", "\x00a\x00 pass word ", "", "a", " pass word ", true},
		{"binary password", "\x00a\x00\xff\xfe", "", "a", "\xff\xfe", true},
		{"empty", "", "", "", "", false},
		{"no separators", "alice secret", "", "", "", false},
		{"one separator", "alice\x00secret", "", "", "", false},
		{"three separators", "\x00alice\x00sec\x00ret", "", "", "", false},
		{"empty authcid", "\x00\x00secret", "", "", "", false},
		{"empty password", "\x00alice\x00", "", "", "", false},
		{"bad utf8 authcid", "\x00al\xffice\x00pw", "", "", "", false},
		{"bad utf8 authzid", "\xc3\x00alice\x00pw", "", "", "", false},
		{"long authcid", "\x00" + long + "\x00pw", "", "", "", false},
		{"long password", "\x00a\x00" + strings.Repeat("p", maxPasswordLen+1), "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			z, c, p, err := ParsePlain([]byte(tc.msg))
			if !tc.ok {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("ParsePlain = %q %q %q %v, want ErrMalformed", z, c, p, err)
				}
				return
			}
			if err != nil || z != tc.authzid || c != tc.authcid || string(p) != tc.passwd {
				t.Errorf("ParsePlain = %q %q %q %v, want %q %q %q", z, c, p, err, tc.authzid, tc.authcid, tc.passwd)
			}
		})
	}
}
