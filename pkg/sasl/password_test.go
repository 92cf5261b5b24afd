package sasl

import (
	"context"
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// fakeMap is a maps.Map for tests; err makes every lookup fail.
type fakeMap struct {
	entries map[string]string
	err     error
	lookups []string
}

func (m *fakeMap) Lookup(key string) (string, bool, error) {
	m.lookups = append(m.lookups, key)
	if m.err != nil {
		return "", false, m.err
	}
	v, ok := m.entries[strings.ToLower(key)]
	return v, ok, nil
}
func (m *fakeMap) Name() string { return "fake:users" }
func (m *fakeMap) Close() error { return nil }

// Hashes of "Hello world!" from the specification's vectors.
const (
	helloSHA512 = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
	helloSHA256 = "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"
)

func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestCheckPassword(t *testing.T) {
	blf := bcryptHash(t, "Hello world!") // "$2a$04$..."
	blfB := "$2b$" + blf[4:]             // the same hash, other version letters
	blfY := "$2y$" + blf[4:]
	tests := []struct {
		name, stored, password string
		want                   error // nil, ErrAuthFailed or ErrTemporary
	}{
		{"sha512 ok", helloSHA512, "Hello world!", nil},
		{"sha512 wrong", helloSHA512, "hello world!", ErrAuthFailed},
		{"sha512 empty password", helloSHA512, "", ErrAuthFailed},
		{"sha512 dovecot prefix", "{SHA512-CRYPT}" + helloSHA512, "Hello world!", nil},
		{"sha512 lower-case prefix", "{sha512-crypt}" + helloSHA512, "Hello world!", nil},
		{"sha512 CRYPT prefix", "{CRYPT}" + helloSHA512, "Hello world!", nil},
		{"sha512 surrounding space", "  " + helloSHA512 + "\n", "Hello world!", nil},
		{"sha256 ok", helloSHA256, "Hello world!", nil},
		{"sha256 prefix", "{SHA256-CRYPT}" + helloSHA256, "Hello world!", nil},
		{"sha256 wrong", helloSHA256, "Hello world", ErrAuthFailed},
		{"bcrypt 2a", blf, "Hello world!", nil},
		{"bcrypt 2b", blfB, "Hello world!", nil},
		{"bcrypt 2y", blfY, "Hello world!", nil},
		{"bcrypt prefix", "{BLF-CRYPT}" + blfY, "Hello world!", nil},
		{"bcrypt wrong", blf, "Hello world?", ErrAuthFailed},
		{"prefix mismatch", "{BLF-CRYPT}" + helloSHA512, "Hello world!", ErrTemporary},
		{"unknown scheme", "{PLAIN}Hello world!", "Hello world!", ErrTemporary},
		{"unterminated prefix", "{SHA512-CRYPT" + helloSHA512, "Hello world!", ErrTemporary},
		{"plaintext value", "Hello world!", "Hello world!", ErrTemporary},
		{"md5 crypt", "$1$salt$qJH7.N4xYta3aEG/dfqo/0", "password", ErrTemporary},
		{"truncated sha512", helloSHA512[:60], "Hello world!", ErrTemporary},
		{"setting only", "$6$saltstring", "Hello world!", ErrTemporary},
		{"bad bcrypt cost", "$2a$99$" + blf[7:], "Hello world!", ErrTemporary},
		{"empty", "", "x", ErrTemporary},
		{"too long password", helloSHA512, strings.Repeat("x", maxPasswordLen+1), ErrAuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckPassword(context.Background(), tc.stored, []byte(tc.password))
			switch {
			case tc.want == nil && err != nil:
				t.Errorf("CheckPassword = %v, want success", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("CheckPassword = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestCheckPasswordDoveadm checks hashes made by Dovecot's own tool, with
// its scheme prefixes and a rounds= setting.
func TestCheckPasswordDoveadm(t *testing.T) {
	if _, err := exec.LookPath("doveadm"); err != nil {
		t.Skip("doveadm not installed")
	}
	for _, args := range [][]string{
		{"-s", "SHA512-CRYPT"},
		{"-s", "SHA512-CRYPT", "-r", "7000"},
		{"-s", "SHA256-CRYPT"},
		{"-s", "BLF-CRYPT", "-r", "5"},
	} {
		out, err := exec.Command("doveadm", append([]string{"pw", "-p", "s3cret pw"}, args...)...).Output()
		if err != nil {
			t.Fatalf("doveadm pw %v: %v", args, err)
		}
		stored := strings.TrimSpace(string(out))
		if err := CheckPassword(context.Background(), stored, []byte("s3cret pw")); err != nil {
			t.Errorf("%s: right password: %v", stored, err)
		}
		if err := CheckPassword(context.Background(), stored, []byte("s3cret pW")); !isAuthFailed(err) {
			t.Errorf("%s: wrong password: %v", stored, err)
		}
	}
}

func TestParseStoredHash(t *testing.T) {
	tests := []struct {
		in   string
		kind hashKind
	}{
		{helloSHA512, hashSHA512Crypt},
		{"{SHA512-CRYPT}" + helloSHA512, hashSHA512Crypt},
		{helloSHA256, hashSHA256Crypt},
		{"$2y$05$clV05gHofxg5PaDnK.ItwuEEjOhgjxFU4gxgQuyWSOgwIuzuAtfBq", hashBcrypt},
		{"$2x$05$clV05gHofxg5PaDnK.ItwuEEjOhgjxFU4gxgQuyWSOgwIuzuAtfBq", 0},
		{"$2y$05$clV05gHofxg5PaDnK.ItwuEEjOhgjxFU4gxgQuyWSOgwIuzuAtfB", 0},
		{"$2y$05$clV05gHofxg5PaDnK.ItwuEEjOhgjxFU4gxgQuyWSOgwIuzuAtf-q", 0},
		{"{}" + helloSHA512, 0},
		{"$7$x", 0},
	}
	for _, tc := range tests {
		h, err := parseStoredHash(tc.in)
		if tc.kind == 0 {
			if err == nil {
				t.Errorf("parseStoredHash(%q) = kind %d, want error", tc.in, h.kind)
			}
			continue
		}
		if err != nil || h.kind != tc.kind {
			t.Errorf("parseStoredHash(%q) = kind %d, %v; want kind %d", tc.in, h.kind, err, tc.kind)
		}
	}
}

// drive runs an exchange as smtpd does: the first Next gets the initial
// response (or nil), each later one the next client response. It returns
// the challenges seen and the outcome.
func drive(t *testing.T, ex Exchange, first []byte, responses [][]byte) (challenges []string, user string, err error) {
	t.Helper()
	ctx := context.Background()
	resp := first
	for i := 0; i <= len(responses); i++ {
		if i > 0 {
			resp = responses[i-1]
		}
		ch, done, u, err := ex.Next(ctx, resp)
		if err != nil {
			return challenges, "", err
		}
		if done {
			if i != len(responses) {
				t.Errorf("done after %d of %d responses", i, len(responses))
			}
			return challenges, u, nil
		}
		if ch == nil {
			t.Errorf("challenge %d is nil, want non-nil", i)
		}
		challenges = append(challenges, string(ch))
	}
	t.Fatalf("exchange not done after %d responses (challenges %q)", len(responses), challenges)
	return nil, "", nil
}

func TestPasswordServer(t *testing.T) {
	users := map[string]string{
		"alice":         helloSHA512,
		"bob":           "{SHA256-CRYPT}" + helloSHA256,
		"carol@example": "{BLF-CRYPT}" + bcryptHash(t, "carol pw"),
		"broken":        "{MD5}abc",
	}
	plain := func(s string) []byte { return []byte(s) }
	tests := []struct {
		name       string
		mech       string
		initial    []byte
		responses  [][]byte
		challenges []string
		user       string
		want       error
	}{
		{name: "PLAIN initial", mech: "PLAIN", initial: plain("\x00alice\x00Hello world!"), user: "alice"},
		{name: "PLAIN lower-case mech", mech: "plain", initial: plain("\x00alice\x00Hello world!"), user: "alice"},
		{name: "PLAIN authzid same", mech: "PLAIN", initial: plain("alice\x00alice\x00Hello world!"), user: "alice"},
		{name: "PLAIN no initial", mech: "PLAIN", responses: [][]byte{plain("\x00bob\x00Hello world!")},
			challenges: []string{""}, user: "bob"},
		{name: "PLAIN bcrypt", mech: "PLAIN", initial: plain("\x00carol@example\x00carol pw"), user: "carol@example"},
		{name: "PLAIN wrong password", mech: "PLAIN", initial: plain("\x00alice\x00hello"), want: ErrAuthFailed},
		{name: "PLAIN unknown user", mech: "PLAIN", initial: plain("\x00nosuchuser\x00Hello world!"), want: ErrAuthFailed},
		{name: "PLAIN other authzid", mech: "PLAIN", initial: plain("bob\x00alice\x00Hello world!"), want: ErrAuthFailed},
		{name: "PLAIN malformed", mech: "PLAIN", initial: plain("alice Hello world!"), want: ErrMalformed},
		{name: "PLAIN empty initial", mech: "PLAIN", initial: []byte{}, want: ErrMalformed},
		{name: "PLAIN unusable hash", mech: "PLAIN", initial: plain("\x00broken\x00x"), want: ErrTemporary},
		{name: "LOGIN", mech: "LOGIN", responses: [][]byte{plain("alice"), plain("Hello world!")},
			challenges: []string{"Username:", "Password:"}, user: "alice"},
		{name: "LOGIN initial user", mech: "LOGIN", initial: plain("bob"), responses: [][]byte{plain("Hello world!")},
			challenges: []string{"Password:"}, user: "bob"},
		{name: "LOGIN empty initial", mech: "LOGIN", initial: []byte{}, responses: [][]byte{plain("alice"), plain("Hello world!")},
			challenges: []string{"Username:", "Password:"}, user: "alice"},
		{name: "LOGIN wrong password", mech: "LOGIN", responses: [][]byte{plain("alice"), plain("nope")},
			challenges: []string{"Username:", "Password:"}, want: ErrAuthFailed},
		{name: "LOGIN unknown user", mech: "LOGIN", responses: [][]byte{plain("nosuchuser"), plain("Hello world!")},
			challenges: []string{"Username:", "Password:"}, want: ErrAuthFailed},
		{name: "LOGIN empty user", mech: "LOGIN", responses: [][]byte{{}},
			challenges: []string{"Username:"}, want: ErrMalformed},
		{name: "LOGIN NUL in user", mech: "LOGIN", responses: [][]byte{plain("a\x00b")},
			challenges: []string{"Username:"}, want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewPasswordServer(&fakeMap{entries: users})
			ex, err := s.Start(context.Background(), tc.mech, tc.initial, Info{Service: "smtp"})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			challenges, user, err := drive(t, ex, tc.initial, tc.responses)
			if strings.Join(challenges, "|") != strings.Join(tc.challenges, "|") {
				t.Errorf("challenges %q, want %q", challenges, tc.challenges)
			}
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || user != tc.user {
				t.Errorf("user %q, err %v; want %q", user, err, tc.user)
			}
			if _, _, _, err := ex.Next(context.Background(), []byte("more")); err == nil {
				t.Error("Next after success did not fail")
			}
		})
	}
}

func TestPasswordServerSameReplyForUnknownAndWrong(t *testing.T) {
	s := NewPasswordServer(&fakeMap{entries: map[string]string{"alice": helloSHA512}})
	outcome := func(msg string) string {
		ex, err := s.Start(context.Background(), "PLAIN", []byte(msg), Info{})
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, err = ex.Next(context.Background(), nil)
		return ReplyFor(err).String()
	}
	unknown, wrong := outcome("\x00nosuchuser\x00pw"), outcome("\x00alice\x00pw")
	if unknown != wrong || !strings.HasPrefix(unknown, "535 5.7.8 ") {
		t.Errorf("unknown user gives %q, wrong password %q; want the same 535 reply", unknown, wrong)
	}
}

func TestPasswordServerLookupError(t *testing.T) {
	m := &fakeMap{err: errors.New("table is down")}
	s := NewPasswordServer(m)
	ex, err := s.Start(context.Background(), "PLAIN", []byte("\x00alice\x00pw"), Info{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = ex.Next(context.Background(), nil)
	if !errors.Is(err, ErrTemporary) {
		t.Fatalf("err = %v, want ErrTemporary", err)
	}
	if r := ReplyFor(err); r.Code != 454 || strings.Contains(r.Text, "table is down") {
		t.Errorf("reply %v: want 454 without the internal cause", r)
	}
	if len(m.lookups) != 1 || m.lookups[0] != "alice" {
		t.Errorf("lookups %q, want [alice]", m.lookups)
	}
}

func TestPasswordServerMechanisms(t *testing.T) {
	s := NewPasswordServer(&fakeMap{})
	defer s.Close()
	for _, secured := range []bool{false, true} {
		got, err := s.Mechanisms(context.Background(), secured)
		if want := []Mechanism{{"PLAIN", PropPlaintext}, {"LOGIN", PropPlaintext}}; err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Mechanisms(%v) = %v, %v; want %v", secured, got, err, want)
		}
	}
	for _, mech := range []string{"CRAM-MD5", "", "PLAIN\tx"} {
		if _, err := s.Start(context.Background(), mech, nil, Info{}); !errors.Is(err, ErrUnsupportedMech) {
			t.Errorf("Start(%q) = %v, want ErrUnsupportedMech", mech, err)
		}
	}
}
