package sasl

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func FuzzParsePlain(f *testing.F) {
	for _, s := range []string{"\x00alice\x00secret", "admin\x00alice\x00pw", "", "\x00\x00", "a\x00b", "\xff\x00\xfe\x00\xfd"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		z, c, p, err := ParsePlain(msg)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if c == "" || len(p) == 0 {
			t.Fatalf("accepted empty authcid or password in %q", msg)
		}
		joined := append([]byte(z+"\x00"+c+"\x00"), p...)
		if !bytes.Equal(joined, msg) {
			t.Fatalf("parts %q %q %q do not make up %q", z, c, p, msg)
		}
	})
}

func FuzzDovecotLine(f *testing.F) {
	for _, s := range []string{
		"VERSION\t1\t2", "MECH\tPLAIN\tplaintext", "DONE", "OK\t1\tuser=a\x01tb",
		"FAIL\t1\ttemp\treason=x", "CONT\t1\t", "", "\t", "ok", "X\x01", "CONT\t1\tAAAA\r",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l, err := parseDovecotLine(line)
		if err != nil {
			if !errors.Is(err, errGarbage) {
				t.Fatalf("error %v does not wrap errGarbage", err)
			}
			return
		}
		if l.cmd == "" || strings.ContainsAny(l.cmd, "\t\x01") {
			t.Fatalf("command %q from %q", l.cmd, line)
		}
		for _, a := range l.args {
			if u := tabUnescape(tabEscape(a)); u != a {
				t.Fatalf("escape round trip of %q gives %q", a, u)
			}
		}
		dovecotParams(l.args)
		parseMech(l.args)
	})
}

func FuzzCryptHash(f *testing.F) {
	for _, s := range []string{
		helloSHA512, helloSHA256, "{SHA512-CRYPT}" + helloSHA512, "{BLF-CRYPT}$2y$05$clV05gHofxg5PaDnK.ItwuEEjOhgjxFU4gxgQuyWSOgwIuzuAtfBq",
		"$6$rounds=1000$s$", "$6$rounds=", "$5$", "{", "{}", "$2a$", "$6$rounds=99999999999999999999$x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parseStoredHash(s)
		if err != nil {
			return
		}
		if h.kind == hashSHA512Crypt || h.kind == hashSHA256Crypt {
			again, err := parseShaCrypt(h.sha.String())
			if err != nil || again != h.sha {
				t.Fatalf("%q: re-parsing %q gives %+v, %v", s, h.sha.String(), again, err)
			}
			if h.sha.rounds > 2000 {
				return // keep the fuzzer fast
			}
		}
		if h.kind == hashBcrypt && (h.crypt[4] > '0' || h.crypt[5] > '5') {
			return // bcrypt cost above 5: too slow
		}
		err = CheckPassword(context.Background(), s, []byte("password"))
		if err != nil && !errors.Is(err, ErrAuthFailed) && !errors.Is(err, ErrTemporary) {
			t.Fatalf("CheckPassword(%q) = %v: no class", s, err)
		}
	})
}
