package maps

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseSource(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []Entry
		warnings []string
	}{
		{"simple", "a b\nC  d e \n", []Entry{{"a", "b", 1}, {"C", "d e", 2}}, nil},
		{"comments and blanks", "# c\n\n   \n  # indented comment\na b\n", []Entry{{"a", "b", 5}}, nil},
		{"continuation", "a b,\n  c,\n\tdd\nx y\n", []Entry{{"a", "b,  c,\tdd", 1}, {"x", "y", 4}}, nil},
		{"comment inside continuation", "a b\n# c\n  d\n", []Entry{{"a", "b  d", 1}}, nil},
		{"blank inside continuation", "a b\n\n  d\n", []Entry{{"a", "b  d", 1}}, nil},
		{"crlf", "a b\r\nc d\r\n", []Entry{{"a", "b", 1}, {"c", "d", 2}}, nil},
		{"no final newline", "a b", []Entry{{"a", "b", 1}}, nil},
		{"hash inside value", "a b#c\n", []Entry{{"a", "b#c", 1}}, nil},
		{"missing value", "a\nb c\n", []Entry{{"b", "c", 2}},
			[]string{"f, line 1: expected format: key whitespace value"}},
		{"value on continuation", "a\n  b\n", []Entry{{"a", "b", 1}}, nil},
		{"leading whitespace", "  a b\n   c\nd e\n", []Entry{{"d", "e", 3}},
			[]string{`f, line 1: logical line must not start with whitespace: "a b"`}},
		{"quoted key", `"a b" c` + "\n" + `"x\"y\\" z` + "\n", []Entry{{"a b", "c", 1}, {`x"y\`, "z", 2}}, nil},
		{"unbalanced quote", "\"a b c\n", nil,
			[]string{"f, line 1: unbalanced double quote in key -- ignoring this line"}},
		{"quote then text", "\"a\"b c\n", nil, []string{"f, line 1: expected format: key whitespace value"}},
		{"alias format", "a: b\n", []Entry{{"a:", "b", 1}},
			[]string{`f, line 1: record is in "key: value" format; is this an alias file?`}},
		{"empty", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ParseSource(strings.NewReader(tt.in), "f")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries = %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(warnings, tt.warnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.warnings)
			}
		})
	}
}

func TestParseAliases(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []Entry
		warnings []string
	}{
		{"simple", "root: admin, bob\nPostmaster:root\n", []Entry{{"root", "admin, bob", 1}, {"Postmaster", "root", 2}}, nil},
		{"continuation", "# list\nstaff: a,\n  b,\n# note\n\tc\nx: y\n",
			[]Entry{{"staff", "a,  b,\tc", 2}, {"x", "y", 6}}, nil},
		{"quoted name", `"a b": c` + "\n" + `"x:y" : z` + "\n", []Entry{{"a b", "c", 1}, {"x:y", "z", 2}}, nil},
		{"pipe and include", "p: \"|/bin/cmd a, b\", :include:/etc/list\n",
			[]Entry{{"p", `"|/bin/cmd a, b", :include:/etc/list`, 1}}, nil},
		{"no colon", "a b\nc: d\n", []Entry{{"c", "d", 2}}, []string{"f, line 1: need name:value pair"}},
		{"empty value", "a:\nb:  \n", nil,
			[]string{"f, line 1: need name:value pair", "f, line 2: need name:value pair"}},
		{"empty name", ": x\n", nil, []string{"f, line 1: need name:value pair"}},
		{"comma in name", "a,b: x\n", nil, []string{"f, line 1: need name:value pair"}},
		{"non-local name", "a@b: x\nc%d: y\n", nil,
			[]string{"f, line 1: name must be local", "f, line 2: name must be local"}},
		{"unbalanced quote", "\"a: b\n", nil, []string{"f, line 1: need name:value pair"}},
		{"quoted without colon", "\"a\" b\n", nil, []string{"f, line 1: need name:value pair"}},
		{"leading whitespace", " a: b\nc: d\n", []Entry{{"c", "d", 2}},
			[]string{`f, line 1: logical line must not start with whitespace: "a: b"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := ParseAliases(strings.NewReader(tt.in), "f")
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries = %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(warnings, tt.warnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.warnings)
			}
		})
	}
}

func TestParseInline(t *testing.T) {
	tests := []struct {
		in      string
		want    []Entry
		wantErr bool
	}{
		{"{ a=b, c=d }", []Entry{{"a", "b", 0}, {"c", "d", 0}}, false},
		{"{a=b c=d}", []Entry{{"a", "b", 0}, {"c", "d", 0}}, false},
		{"{ { a = text with spaces, and commas }, b=c }", []Entry{{"a", "text with spaces, and commas", 0}, {"b", "c", 0}}, false},
		{"{ a= }", []Entry{{"a", "", 0}}, false},
		{"{ a=b=c }", []Entry{{"a", "b=c", 0}}, false},
		{" { a=b } ", []Entry{{"a", "b", 0}}, false},
		{"a=b", nil, true},
		{"{ }", nil, true},
		{"{ a }", nil, true},
		{"{ =b }", nil, true},
		{"{ a=b", nil, true},
		{"{ a=b }}", nil, true},
		{"{ {a=b }", nil, true},
		{"{ {a=b} x}", nil, true},
		{"{a=b}{c=d}", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseInline(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseInline(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseInline(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestSplitSpecs(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"hash:/etc/aliases, nis:mail.aliases", []string{"hash:/etc/aliases", "nis:mail.aliases"}, false},
		{"  inline:{ a=b, c=d }\n\tstatic:{ x y },hash:/x ", []string{"inline:{ a=b, c=d }", "static:{ x y }", "hash:/x"}, false},
		{"", nil, false},
		{"inline:{ a=b", nil, true},
		{"a}", nil, true},
	}
	for _, tt := range tests {
		got, err := SplitSpecs(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("SplitSpecs(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitSpecs(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
