package tablefile

import (
	"reflect"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Line
		err      string
	}{
		{"plain", "a 1\nb 2", []Line{{"a 1", 1}, {"b 2", 2}}, ""},
		{"comments and blanks", "# c\n\n  # indented comment\na 1\n", []Line{{"a 1", 4}}, ""},
		{"continuation", "a 1\n  more\n\tand more\nb 2\n", []Line{{"a 1  more\tand more", 1}, {"b 2", 4}}, ""},
		{"continuation first", "  a 1\n", nil, "t:1: logical line must not start with whitespace"},
		{"crlf is kept for the parser", "a 1\r\n", []Line{{"a 1\r", 1}}, ""},
	}
	for _, tt := range tests {
		got, err := Read("t", strings.NewReader(tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Read = %+v, %v; want %+v", tt.name, got, err, tt.want)
		}
	}
}

func TestIfStack(t *testing.T) {
	var s IfStack
	if _, ok := s.Pop(); ok {
		t.Fatal("Pop on an empty stack succeeded")
	}
	s.Push(3, 10)
	s.Push(5, 12)
	if line, ok := s.Unclosed(); !ok || line != 12 {
		t.Errorf("Unclosed = %d, %v; want 12", line, ok)
	}
	if r, ok := s.Pop(); !ok || r != 5 {
		t.Errorf("Pop = %d, %v; want 5", r, ok)
	}
	if r, ok := s.Pop(); !ok || r != 3 {
		t.Errorf("Pop = %d, %v; want 3", r, ok)
	}
	if _, ok := s.Unclosed(); ok {
		t.Error("an emptied stack reports an open IF")
	}
}

func TestParseReportsUnclosedIf(t *testing.T) {
	var open IfStack
	var seen []int
	err := Parse("t", strings.NewReader("if x\nrule\n"), &open, func(l Line) error {
		seen = append(seen, l.Number)
		if strings.HasPrefix(l.Text, "if") {
			open.Push(0, l.Number)
		}
		return nil
	})
	if err == nil || err.Error() != "t:1: IF has no matching ENDIF" || len(seen) != 2 {
		t.Errorf("Parse = %v after lines %v", err, seen)
	}
}

func TestIsKeyword(t *testing.T) {
	tests := []struct {
		s, kw string
		want  bool
	}{
		{"if", "if", true},
		{"IF /x/", "if", true},
		{"if!/x/", "if", true},
		{"ifx", "if", false},
		{"if1", "if", false},
		{"i", "if", false},
		{"EndIf", "endif", true},
		{"endif_", "endif", true},
	}
	for _, tt := range tests {
		if got := IsKeyword(tt.s, tt.kw); got != tt.want {
			t.Errorf("IsKeyword(%q, %q) = %v, want %v", tt.s, tt.kw, got, tt.want)
		}
	}
}

func TestListPattern(t *testing.T) {
	for _, tt := range []struct {
		in      string
		pattern string
		negate  bool
	}{
		{"example.com", "example.com", false},
		{"!10.0.0.0/8", "10.0.0.0/8", true},
		{" ! !x ", "x", false},
		{"!!!/etc/file", "/etc/file", true},
		{"!", "", true},
	} {
		if p, n := ListPattern(tt.in); p != tt.pattern || n != tt.negate {
			t.Errorf("ListPattern(%q) = %q, %v; want %q, %v", tt.in, p, n, tt.pattern, tt.negate)
		}
	}
}
