package postconf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEditMainCF(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		edits []edit
		want  string
	}{
		{"append to empty", "", []edit{{name: "relayhost", value: "r"}}, "relayhost = r\n"},
		{"append keeps comments", "# top\nbiff = no\n", []edit{{name: "relayhost", value: "r"}},
			"# top\nbiff = no\nrelayhost = r\n"},
		{"replace with continuation", "# c1\nmydestination = a,\n  b,\n\tc\n# c2\nbiff = no\n",
			[]edit{{name: "mydestination", value: "x"}}, "# c1\nmydestination = x\n# c2\nbiff = no\n"},
		{"comment inside continuation is dropped with it", "a = 1,\n# mid\n  2\n# after\nb = 2\n",
			[]edit{{name: "a", value: "9"}}, "a = 9\n# after\nb = 2\n"},
		{"replace first remove later", "relayhost = a\nbiff = no\nrelayhost = b\n  more\n",
			[]edit{{name: "relayhost", value: "c"}}, "relayhost = c\nbiff = no\n"},
		{"commented definition untouched", "#relayhost = old\n", []edit{{name: "relayhost", value: "new"}},
			"#relayhost = old\nrelayhost = new\n"},
		{"no space around equals", "relayhost=a\n", []edit{{name: "relayhost", value: "b"}}, "relayhost = b\n"},
		{"remove", "a = 1\n  cont\n\n# keep\nb = 2\n", []edit{{name: "a", remove: true}}, "\n# keep\nb = 2\n"},
		{"remove absent", "b = 2\n", []edit{{name: "a", remove: true}}, "b = 2\n"},
		{"remove all", "a = 1\n", []edit{{name: "a", remove: true}}, ""},
		{"last edit wins", "", []edit{{name: "a", value: "1"}, {name: "b", value: "2"}, {name: "a", value: "3"}},
			"a = 3\nb = 2\n"},
		{"empty value", "a = 1\n", []edit{{name: "a", value: ""}}, "a =\n"},
		{"no final newline", "a = 1", []edit{{name: "b", value: "2"}}, "a = 1\nb = 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(editMainCF([]byte(tt.in), tt.edits))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEditCommand(t *testing.T) {
	dir := writeConf(t, "main.cf", "# keep me\nrelayhost = old\n    # indented comment\nsmtpd_banner = x # trailing\nbiff = no\n")
	path := filepath.Join(dir, "main.cf")
	if _, errs, code := run(t, dir, "-e", "relayhost=[new]:587", "myorigin = $mydomain", "my_custom=1"); code != 0 {
		t.Fatalf("-e: code %d stderr %q", code, errs)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "# keep me\nrelayhost = [new]:587\n    # indented comment\nsmtpd_banner = x # trailing\nbiff = no\nmyorigin = $mydomain\nmy_custom = 1\n"
	if string(data) != want {
		t.Errorf("main.cf = %q, want %q", data, want)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
		t.Errorf("mode not kept: %v %v", st.Mode(), err)
	}
	if out, errs, _ := run(t, dir, "-h", "relayhost"); out != "[new]:587\n" {
		t.Errorf("after -e: %q %q", out, errs)
	}
	if _, errs, code := run(t, dir, "-X", "biff", "my_custom"); code != 0 {
		t.Fatalf("-X: code %d stderr %q", code, errs)
	}
	data, _ = os.ReadFile(path)
	if strings.Contains(string(data), "biff") || strings.Contains(string(data), "my_custom") || !strings.Contains(string(data), "# keep me") {
		t.Errorf("after -X: %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestEditErrors(t *testing.T) {
	dir := writeConf(t, "main.cf", "relayhost = a\n")
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"-e"}, 1, "need at least one argument"},
		{[]string{"-e", "novalue"}, 1, "bad -e argument"},
		{[]string{"-e", "=x"}, 1, "bad -e argument"},
		{[]string{"-e", "message_size_limit=big"}, 2, "not changing"},
	}
	for _, tt := range tests {
		_, errs, code := run(t, dir, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.msg) {
			t.Errorf("%q: code %d stderr %q", tt.args, code, errs)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "main.cf"))
	if string(data) != "relayhost = a\n" {
		t.Errorf("main.cf changed: %q", data)
	}
	// A broken main.cf can still be repaired with -e.
	broken := writeConf(t, "main.cf", "message_size_limit = big\n")
	if _, errs, code := run(t, broken, "-e", "message_size_limit=1000"); code != 0 {
		t.Errorf("repair: code %d stderr %q", code, errs)
	}
	// A new main.cf is created when none exists.
	empty := t.TempDir()
	if _, _, code := run(t, empty, "-e", "relayhost=x"); code != 0 {
		t.Error("-e without main.cf failed")
	}
	if data, _ := os.ReadFile(filepath.Join(empty, "main.cf")); string(data) != "relayhost = x\n" {
		t.Errorf("new main.cf = %q", data)
	}
}
