package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPostmapAndPostaliasLinks runs tern under the link names postmap and
// postalias, as "make install-postfix-links" installs them.
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
	tests := []struct {
		argv []string
		want string
	}{
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

func TestQueueCommandErrors(t *testing.T) {
	for _, argv := range [][]string{{"tern", "queue"}, {"tern", "queue", "purge"}} {
		var out, errb bytes.Buffer
		if code := run(argv, strings.NewReader(""), &out, &errb); code != 64 || !strings.Contains(errb.String(), "need flush or list") {
			t.Errorf("%v: exit %d, stderr %q", argv, code, errb.String())
		}
	}
}
