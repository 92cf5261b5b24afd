package idn

import "testing"

func TestToASCII(t *testing.T) {
	for _, tt := range []struct {
		in           string
		transitional bool
		want         string
		ok           bool
	}{
		{"example.com", false, "example.com", true},
		{"bücher.example", false, "xn--bcher-kva.example", true},
		{"BÜCHER.example", false, "xn--bcher-kva.example", true},
		{".bücher.example", false, ".xn--bcher-kva.example", true},
		{"straße.example", false, "xn--strae-oqa.example", true},
		{"straße.example", true, "strasse.example", true},
		{"b\xffcher.example", false, "b\xffcher.example", false},
	} {
		got, ok := ToASCII(tt.in, tt.transitional)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ToASCII(%q, %v) = %q, %v; want %q, %v", tt.in, tt.transitional, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzToASCII(f *testing.F) {
	for _, s := range []string{"bücher.example", ".straße.example", "example.com", "\xff", "xn--zz.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tr := range []bool{false, true} {
			a, ok := ToASCII(s, tr)
			if ok && !IsASCII(a) {
				t.Fatalf("ToASCII(%q, %v) = %q: not ASCII", s, tr, a)
			}
		}
	})
}
