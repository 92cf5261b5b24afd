package postqueue

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args []string
		want []string // sendmail arguments; nil for -j
		err  string
	}{
		{[]string{"-p"}, []string{"-bp"}, ""},
		{[]string{"-c", "/etc/x", "-p"}, []string{"-bp", "-C", "/etc/x"}, ""},
		{[]string{"-c/etc/x", "-vf"}, []string{"-q", "-C", "/etc/x"}, ""},
		{[]string{"-s", "example.com"}, []string{"-qRexample.com"}, ""},
		{[]string{"-iABC123"}, []string{"-qIABC123"}, ""},
		{[]string{"-j"}, nil, ""},
		{nil, nil, "usage"},
		{[]string{"-p", "-f"}, nil, "usage"},
		{[]string{"-s"}, nil, "requires an argument -- 's'"},
		{[]string{"-x"}, nil, "invalid option -- 'x'"},
		{[]string{"p"}, nil, "usage"},
	}
	for _, tt := range tests {
		r, err := parse(tt.args)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("parse(%q) = %v, want an error with %q", tt.args, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parse(%q): %v", tt.args, err)
			continue
		}
		if r.action == 'j' {
			if tt.want != nil {
				t.Errorf("parse(%q) = -j, want %q", tt.args, tt.want)
			}
			continue
		}
		if got := r.sendmailArgs(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parse(%q) gives sendmail %q, want %q", tt.args, got, tt.want)
		}
	}
}

// FuzzParse: any command line parses or fails without a panic; a parsed
// one has exactly one action, and -i and -s carry their argument.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"-p", "-c /etc/x -f", "-vj", "-s example.com", "-iABC", "-p -f", "-", "--", "-c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parse(strings.Fields(line))
		if err != nil {
			return
		}
		if !strings.ContainsRune("fijps", rune(r.action)) || r.action == 0 {
			t.Fatalf("parse(%q): action %q", line, r.action)
		}
		if (r.action == 'i' || r.action == 's') && r.arg == "" {
			t.Fatalf("parse(%q): -%c without its argument", line, r.action)
		}
	})
}
