package local

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
)

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in   string
		want []Target
	}{
		{"alice, bob@x.org", []Target{{tAddress, "alice"}, {tAddress, "bob@x.org"}}},
		{"|/usr/bin/vacation alice", []Target{{tCommand, "/usr/bin/vacation alice"}}},
		{`"|cmd a, b", /var/log/mail`, []Target{{tCommand, "cmd a, b"}, {tFile, "/var/log/mail"}}},
		{"/home/a/Maildir/", []Target{{tFile, "/home/a/Maildir/"}}},
		{":include:/etc/list, :INCLUDE: /x", []Target{{tInclude, "/etc/list"}, {tInclude, "/x"}}},
		{`\alice, "\\bob"`, []Target{{tMailbox, "alice"}, {tMailbox, "bob"}}},
		{"# comment, with comma\nalice\n  # indented comment\nbob\n", []Target{{tAddress, "alice"}, {tAddress, "bob"}}},
		{"Alice Smith <alice@x.org>, <bob@y.org>", []Target{{tAddress, "alice@x.org"}, {tAddress, "bob@y.org"}}},
		{`"a b"@x.org`, []Target{{tAddress, `"a b"@x.org`}}},
		{" , ,\n\n", nil},
		{"|", nil},
		{":include:", nil},
	}
	for _, tc := range tests {
		if got := ParseTargets(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseTargets(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestExpandTemplate(t *testing.T) {
	v := vars{"home": "/home/a", "user": "a", "extension": "x", "recipient_delimiter": "+", "domain": ""}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"$home/.forward", "/home/a/.forward", true},
		{"$home/.forward${recipient_delimiter}${extension}", "/home/a/.forward+x", true},
		{"${home}/.f${extension?+$extension}", "/home/a/.f+x", true},
		{"/x/${domain:none}", "/x/none", true},
		{"/x/$domain", "", false},
		{"/x/$unknown", "", false},
		{"$$home", "$home", true},
		{"/x/${home", "", false},
		{"/x/$", "", false},
		{"/x/${home?a", "", false},
	}
	for _, tc := range tests {
		got, _, ok := expandTemplate(tc.in, v)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("expandTemplate(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	v["extension"] = ""
	if _, _, ok := expandTemplate("$home/.forward${recipient_delimiter}${extension}", v); ok {
		t.Error("path with an empty extension not skipped")
	}
}

func TestSplitExt(t *testing.T) {
	tests := []struct {
		delims, special string
		in              string
		user, ext       string
	}{
		{"+", "", "alice+x+y", "alice", "x+y"},
		{"+-", "", "alice-x", "alice", "x"},
		{"-", "yes", "owner-list", "owner-list", ""},
		{"-", "yes", "list-request", "list-request", ""},
		{"-", "", "owner-list", "owner", "list"},
		{"", "", "alice+x", "alice+x", ""},
	}
	for _, tc := range tests {
		a := New(Config{RecipientDelimiter: tc.delims, OwnerRequestSpecial: tc.special == "yes"})
		if user, ext, _ := a.splitExt(tc.in); user != tc.user || ext != tc.ext {
			t.Errorf("splitExt(%q, %q) = %q, %q", tc.delims, tc.in, user, ext)
		}
	}
}

func TestScanDeliveredTo(t *testing.T) {
	got, crlf := scanDeliveredTo(strings.NewReader("Subject: x\r\nDelivered-To:  A@X.org \r\ndelivered-to: b@y\r\n\r\nDelivered-To: c@z\r\n"))
	if !crlf || !reflect.DeepEqual(got, map[string]bool{"a@x.org": true, "b@y": true}) {
		t.Fatalf("got %v %v", got, crlf)
	}
}

func TestSystemUsers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	data := "root:x:0:0:root:/root:/bin/bash\n+nis\nbad line\nalice:x:1000:100:Alice A:/home/alice:/bin/zsh\n"
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	db := SystemUsers{PasswdFile: path}
	u, err := db.Lookup("alice")
	if err != nil || *u != (User{Name: "alice", Home: "/home/alice", Shell: "/bin/zsh", Gecos: "Alice A", UID: 1000, GID: 100}) {
		t.Fatalf("alice = %+v, %v", u, err)
	}
	if _, err := db.Lookup("surely-no-such-user-here"); err != ErrNoUser {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestCommandEnvCensored(t *testing.T) {
	for _, tt := range []struct{ filter, in, want string }{
		{"", "a b;`rm`$x@y.org", "a_b__rm__x@y.org"}, // Postfix's default
		{"abcxyz@.", "a b;`rm`$x@y.org", "a_b______x@y.___"},
		{"abc ", "a b", "a b"},
	} {
		c := &Config{CommandExpansionFilter: tt.filter}
		if got := censor(tt.in, c.commandFilter()); got != tt.want {
			t.Errorf("filter %q: censor(%q) = %q, want %q", tt.filter, tt.in, got, tt.want)
		}
	}
}

func TestRunJobReadError(t *testing.T) {
	dir := t.TempDir()
	r := RunJob(t.Context(), Job{Kind: KindMbox, Path: filepath.Join(dir, "m"), OwnerUID: -1}, errReader{})
	if r.Status != agent.Defer || !strings.Contains(r.Text, "error reading message") {
		t.Fatalf("result %+v", r)
	}
	if fi, err := os.Stat(filepath.Join(dir, "m")); err != nil || fi.Size() != 0 {
		t.Fatalf("mbox not truncated: %v %v", fi, err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }

func FuzzParseTargets(f *testing.F) {
	for _, s := range []string{"alice, bob", `"|cmd a, b"`, ":include:/x\n# c\n\\u", "A <b@c>", `"\"`, "<<,>>", "\"a\nb\""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tg := range ParseTargets(s) {
			if tg.Value == "" || tg.Kind < tAddress || tg.Kind > tMailbox {
				t.Fatalf("bad target %+v from %q", tg, s)
			}
			if tg.Kind == tAddress && strings.ContainsAny(tg.Value[:1], "|/\\") {
				t.Fatalf("misclassified %+v", tg)
			}
		}
	})
}

func FuzzExpandTemplate(f *testing.F) {
	for _, s := range []string{"$home/.forward${recipient_delimiter}${extension}", "${a?${b:c}}", "$$", "${x", "$(home)"} {
		f.Add(s)
	}
	v := vars{"home": "/h", "extension": "e", "recipient_delimiter": "+"}
	f.Fuzz(func(t *testing.T, s string) {
		out, _, ok := expandTemplate(s, v)
		if !ok && out != "" && !strings.Contains(s, "$") {
			t.Fatalf("failure without a $ in %q", s)
		}
		if !strings.Contains(s, "$") && (out != s || !ok) {
			t.Fatalf("plain text %q changed to %q", s, out)
		}
	})
}

func FuzzScanDeliveredTo(f *testing.F) {
	f.Add("Delivered-To: a@b\n\nx")
	f.Add("X: y\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := scanDeliveredTo(strings.NewReader(s))
		for k := range got {
			if k != strings.ToLower(k) {
				t.Fatalf("not folded: %q", k)
			}
		}
	})
}
