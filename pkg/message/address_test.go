package message

import (
	"reflect"
	"testing"
)

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a@example.com", []string{"a@example.com"}},
		{"a@example.com, b@example.org", []string{"a@example.com", "b@example.org"}},
		{"John Doe <jd@example.com>", []string{"jd@example.com"}},
		{`"Doe, John" <jd@example.com>, x@y`, []string{"jd@example.com", "x@y"}},
		{"jd@example.com (John Doe)", []string{"jd@example.com"}},
		{"(comment (nested)) jd @ example . com", []string{"jd@example.com"}},
		{"friends: a@x, b@y;, c@z", []string{"a@x", "b@y", "c@z"}},
		{"undisclosed-recipients:;", nil},
		{"<@relay1,@relay2:user@example.com>", []string{"user@example.com"}},
		{`"john smith"@example.com`, []string{`"john smith"@example.com`}},
		{"user@[192.0.2.1]", []string{"user@[192.0.2.1]"}},
		{"<>", nil},
		{"bob", []string{"bob"}},
		{"John Doe jd@example.com", []string{"jd@example.com"}},
		{"Name <a@b> trailing junk, c@d", []string{"a@b", "c@d"}},
		{"<unterminated@x", []string{"unterminated@x"}},
		{`"unterminated quote <a@b>`, []string{`"unterminated quote <a@b>`}},
		{",,, ,", nil},
		{"a@b) , )c@d", []string{"a@b", "c@d"}},
		{"a@b,\n\tc@d", []string{"a@b", "c@d"}},
		{"=?utf-8?q?J=C3=B6rg?= <j@example.de>", []string{"j@example.de"}},
	}
	for _, tt := range tests {
		got := ParseAddressList(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseAddressList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseAddressList(f *testing.F) {
	for _, s := range []string{"a@b", "N <a@b>, g: c@d;", `"q\"x" (c (d)) <@r:e@f>`, "[1.2.3.4", "(((", "<<>>,;:", "d)) <@r:c (\"q\\\"x\" (e@f>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range ParseAddressList(s) {
			if a == "" {
				t.Fatalf("empty address from %q", s)
			}
			if len(a) > len(s) {
				t.Fatalf("address %q longer than input %q", a, s)
			}
		}
	})
}
