package config

import (
	"strings"
	"testing"
)

// TestRelationalExpressions: Postfix 3.6's ${{a} OP {b} ? {x} : {y}}, the
// form of its compatibility-dependent defaults, was a syntax error.
func TestRelationalExpressions(t *testing.T) {
	tests := []struct {
		expr, want, err string
	}{
		{"${{$lvl} <level {3.6} ? {no} : {yes}}", "no", ""},
		{"${{3.6} <level {3.6} ? {no} : {yes}}", "yes", ""},
		{"${{3.10} >level {3.6} ? {newer}}", "newer", ""},
		{"${{3.6} <=level {3.6.0} ? {same}}", "same", ""},
		{"${{3} !=level {3.0} ? {differ} : {equal}}", "equal", ""},
		{"${{$name} == {mx} ? {match} : {other}}", "match", ""},
		{"${{$name} != {mx} : {not different}}", "not different", ""},
		{"${{10} > {9} ? {numeric}}", "numeric", ""},
		{"${{10} < {9} ? {x} : {}}", "", ""},
		{"${{ 2 } >= { 2 } ? {ok}}", "ok", ""},
		{"${{a} < {9} ? {x}}", "", "need numbers"},
		{"${{3.x} <level {3.6} ? {x}}", "", "compatibility level"},
		{"${{a} ~ {b} ? {x}}", "", "want ==, !="},
		{"${{a} == {b}}", "", "want ? or :"},
	}
	for _, tt := range tests {
		c, err := Parse("main.cf", strings.NewReader("lvl = 2\nname = mx\n"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Expand(tt.expr)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: %q, %v; want error %q", tt.expr, got, err, tt.err)
			}
		case err != nil || got != tt.want:
			t.Errorf("%s: %q, %v; want %q", tt.expr, got, err, tt.want)
		}
	}
}
