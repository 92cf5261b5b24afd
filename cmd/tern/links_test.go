package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

// TestPostmapAndPostaliasLinks runs tern under the link names postconf,
// postfix, postmap and postalias, as "make install-postfix-links"
// installs them.
func TestPostmapAndPostaliasLinks(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "table")
	if err := os.WriteFile(src, []byte("key value\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	aliases := filepath.Join(dir, "aliases")
	if err := os.WriteFile(aliases, []byte("root: admin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte("myhostname = mx.example.tst\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/sbin/postconf", "-c", dir, "-h", "myhostname"}, "mx.example.tst\n"},
		{[]string{"/usr/sbin/postfix", "version"}, "tern " + config.Version + "\n"},
		{[]string{"/usr/sbin/postmap", "-q", "key", "texthash:" + src}, "value\n"},
		{[]string{"postalias", "hash:" + aliases}, ""},
		{[]string{"postalias", "-q", "root", "hash:" + aliases}, "admin\n"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.argv, strings.NewReader(""), &out, &errb); code != 0 || out.String() != tt.want {
			t.Errorf("%v: exit %d, output %q (%s), want %q", tt.argv, code, out.String(), errb.String(), tt.want)
		}
	}
}

// TestPostqueueUsage: postqueue needs exactly one action, as Postfix's.
func TestPostqueueUsage(t *testing.T) {
	for _, argv := range [][]string{{"postqueue"}, {"postqueue", "-p", "-f"}, {"tern", "postqueue", "-x"}} {
		var out, errb bytes.Buffer
		if code := run(argv, strings.NewReader(""), &out, &errb); code != 64 || !strings.Contains(errb.String(), "usage: postqueue -f") {
			t.Errorf("%v: exit %d, stderr %q; want 64 and the usage", argv, code, errb.String())
		}
	}
}

func TestQueueCommandErrors(t *testing.T) {
	for _, argv := range [][]string{{"tern", "queue"}, {"tern", "queue", "purge"}} {
		var out, errb bytes.Buffer
		if code := run(argv, strings.NewReader(""), &out, &errb); code != 64 || !strings.Contains(errb.String(), "need "+queueCommands) {
			t.Errorf("%v: exit %d, stderr %q", argv, code, errb.String())
		}
	}
}

// TestPostsuperNames: the postsuper link name and "tern postsuper" and
// "tern queue hold" reach the postsuper command (here its usage errors).
func TestPostsuperNames(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"/usr/sbin/postsuper"}, "postsuper: fatal: usage: postsuper"},
		{[]string{"tern", "postsuper", "-x"}, "postsuper: fatal: unknown shorthand flag: 'x'"},
		{[]string{"tern", "queue", "hold"}, "tern queue hold: fatal: usage: tern queue hold"},
	} {
		var out, errb bytes.Buffer
		if code := run(tt.argv, strings.NewReader(""), &out, &errb); code != 1 || !strings.HasPrefix(errb.String(), tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", tt.argv, code, errb.String(), tt.want)
		}
	}
}
