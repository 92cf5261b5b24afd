package sasl

import (
	"context"
	"os/exec"
	"strings"
	"testing"
)

// Test vectors published with Ulrich Drepper's specification "Unix crypt
// using SHA-256 and SHA-512": setting, password, expected crypt(3) output.
var drepperVectors = []struct{ setting, password, want string }{
	{"$5$saltstring", "Hello world!",
		"$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
	{"$5$rounds=10000$saltstringsaltstring", "Hello world!",
		"$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
	{"$5$rounds=5000$toolongsaltstring", "This is just a test",
		"$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5"},
	{"$5$rounds=1400$anotherlongsaltstring",
		"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$5$rounds=1400$anotherlongsalts$Rx.j8H.h8HjEDGomFU8bDkXm3XIUnzyxf12oP84Bnq1"},
	{"$5$rounds=77777$short", "we have a short salt string but not a short password",
		"$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/"},
	{"$5$rounds=123456$asaltof16chars..", "a short string",
		"$5$rounds=123456$asaltof16chars..$gP3VQ/6X7UUEW3HkBn2w1/Ptq2jxPyzV/cZKmF/wJvD"},
	{"$5$rounds=10$roundstoolow", "the minimum number is still observed",
		"$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
	{"$6$saltstring", "Hello world!",
		"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
	{"$6$rounds=10000$saltstringsaltstring", "Hello world!",
		"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
	{"$6$rounds=5000$toolongsaltstring", "This is just a test",
		"$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0"},
	{"$6$rounds=1400$anotherlongsaltstring",
		"a very much longer text to encrypt.  This one even stretches over morethan one line.",
		"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	{"$6$rounds=77777$short", "we have a short salt string but not a short password",
		"$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"},
	{"$6$rounds=123456$asaltof16chars..", "a short string",
		"$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1"},
	{"$6$rounds=10$roundstoolow", "the minimum number is still observed",
		"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX."},
}

// TestShaCryptSpecVectors computes each vector from its setting and also
// verifies the password against the published output.
func TestShaCryptSpecVectors(t *testing.T) {
	for _, v := range drepperVectors {
		t.Run(v.setting, func(t *testing.T) {
			if testing.Short() && strings.Contains(v.setting, "rounds=123456") {
				t.Skip("slow vector in -short mode")
			}
			h, err := parseShaCrypt(v.setting)
			if err != nil {
				t.Fatalf("parse setting: %v", err)
			}
			got, err := shaCrypt(context.Background(), h, []byte(v.password))
			if err != nil {
				t.Fatalf("shaCrypt: %v", err)
			}
			if got.String() != v.want {
				t.Errorf("crypt = %s\nwant    %s", got, v.want)
			}
			if err := CheckPassword(context.Background(), v.want, []byte(v.password)); err != nil {
				t.Errorf("CheckPassword(right password) = %v", err)
			}
			if err := CheckPassword(context.Background(), v.want, []byte(v.password+"x")); !isAuthFailed(err) {
				t.Errorf("CheckPassword(wrong password) = %v, want ErrAuthFailed", err)
			}
		})
	}
}

func TestParseShaCrypt(t *testing.T) {
	digest512 := strings.Repeat("a", 86)
	tests := []struct {
		in          string
		ok          bool
		rounds      int
		roundsGiven bool
		salt, sum   string
	}{
		{in: "$6$salt", ok: true, rounds: 5000, salt: "salt"},
		{in: "$6$salt$" + digest512, ok: true, rounds: 5000, salt: "salt", sum: digest512},
		{in: "$6$rounds=1$s$", ok: true, rounds: 1000, roundsGiven: true, salt: "s"},
		{in: "$6$rounds=99999999999999999999999$s", ok: true, rounds: 999999999, roundsGiven: true, salt: "s"},
		{in: "$5$abcdefghijklmnopqrstuvwxyz", ok: true, rounds: 5000, salt: "abcdefghijklmnop"},
		{in: "$6$$", ok: true, rounds: 5000},
		{in: "$6$rounds=$s"},
		{in: "$6$rounds=12x$s"},
		{in: "$6$rounds=-5$s"},
		{in: "$6$rounds=5000"},
		{in: "$6$salt$short"},
		{in: "$6$salt$" + strings.Repeat("!", 86)},
		{in: "$5$salt$" + digest512},
		{in: "$1$salt$abc"},
		{in: ""},
	}
	for _, tc := range tests {
		h, err := parseShaCrypt(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("parseShaCrypt(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if h.rounds != tc.rounds || h.roundsGiven != tc.roundsGiven || h.salt != tc.salt || h.sum != tc.sum {
			t.Errorf("parseShaCrypt(%q) = rounds %d/%v salt %q sum %q, want %d/%v %q %q",
				tc.in, h.rounds, h.roundsGiven, h.salt, h.sum, tc.rounds, tc.roundsGiven, tc.salt, tc.sum)
		}
	}
}

// TestShaCryptAgainstTools checks against hashes made now by openssl or
// mkpasswd, whichever is installed.
func TestShaCryptAgainstTools(t *testing.T) {
	type tool struct {
		name string
		args func(id, salt, pw string) []string
	}
	tools := []tool{
		{"openssl", func(id, salt, pw string) []string { return []string{"passwd", "-" + id, "-salt", salt, pw} }},
		{"mkpasswd", func(id, salt, pw string) []string {
			m := map[string]string{"5": "sha-256", "6": "sha-512"}[id]
			return []string{"-m", m, "-S", salt, pw}
		}},
	}
	var found *tool
	for i := range tools {
		if _, err := exec.LookPath(tools[i].name); err == nil {
			found = &tools[i]
			break
		}
	}
	if found == nil {
		t.Skip("neither openssl nor mkpasswd is installed")
	}
	cases := []struct{ id, salt, pw string }{
		{"6", "SALT", "PASSWORD"},
		{"6", "tern.1234/ABCDE", "pässwörd with spaces"},
		{"6", "x", "a"},
		{"6", "sixteencharsalt!", strings.Repeat("long password ", 12)},
		{"5", "SALT", "PASSWORD"},
		{"5", "a1b2c3d4", "correct horse battery staple"},
	}
	for _, c := range cases {
		out, err := exec.Command(found.name, found.args(c.id, c.salt, c.pw)...).Output()
		if err != nil {
			t.Fatalf("%s: %v", found.name, err)
		}
		stored := strings.TrimSpace(string(out))
		if !strings.HasPrefix(stored, "$"+c.id+"$") {
			t.Fatalf("%s made %q", found.name, stored)
		}
		h, err := parseShaCrypt(stored)
		if err != nil {
			t.Fatalf("parse %q: %v", stored, err)
		}
		got, err := shaCrypt(context.Background(), h, []byte(c.pw))
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != stored {
			t.Errorf("%s %q: we compute %s, tool made %s", found.name, c.pw, got, stored)
		}
		if err := CheckPassword(context.Background(), stored, []byte(c.pw+"!")); !isAuthFailed(err) {
			t.Errorf("wrong password against %s: %v", stored, err)
		}
	}
}

func TestShaCryptCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h, err := parseShaCrypt("$6$rounds=100000$salt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shaCrypt(ctx, h, []byte("pw")); err == nil {
		t.Error("shaCrypt with a cancelled context succeeded")
	}
}
