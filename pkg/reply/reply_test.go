package reply

import (
	"strings"
	"testing"
)

func TestLines(t *testing.T) {
	tests := []struct {
		r        Reply
		enhanced bool
		want     string
	}{
		{New(250, "2.0.0", "Ok"), true, "250 2.0.0 Ok\r\n"},
		{New(250, "2.0.0", "Ok"), false, "250 Ok\r\n"},
		{Reply{Code: 250, Text: "mx.example\nPIPELINING\nSIZE 10"}, true, "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 10\r\n"},
		{New(550, "5.1.1", "a\nb"), true, "550-5.1.1 a\r\n550 5.1.1 b\r\n"},
		{New(221, "2.0.0", ""), true, "221 2.0.0\r\n"},
		{New(500, "5.5.2", "bad\x00text\rhere"), true, "500 5.5.2 bad text here\r\n"},
	}
	for _, tt := range tests {
		if got := tt.r.Lines(tt.enhanced); got != tt.want {
			t.Errorf("Lines(%+v, %v) = %q, want %q", tt.r, tt.enhanced, got, tt.want)
		}
	}
}

func TestStringAndClasses(t *testing.T) {
	r := New(554, "5.7.1", "<u@x>: Relay access\ndenied")
	if got := r.String(); got != "554 5.7.1 <u@x>: Relay access denied" {
		t.Errorf("String = %q", got)
	}
	if !r.Permanent() || r.Temporary() || r.Positive() || r.IsZero() {
		t.Errorf("classes of %v wrong", r)
	}
	if !New(451, "4.3.0", "x").Temporary() || !New(354, "", "x").Positive() || !(Reply{}).IsZero() {
		t.Error("class checks wrong")
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Reply
		ok   bool
	}{
		{"550 5.7.1 go away", Reply{550, "5.7.1", "go away"}, true},
		{"450 try later", Reply{450, "", "try later"}, true},
		{"450 5.1.1 class mismatch", Reply{450, "", "5.1.1 class mismatch"}, true},
		{"250", Reply{250, "", ""}, true},
		{"199 no", Reply{}, false},
		{"600 no", Reply{}, false},
		{"55x no", Reply{}, false},
		{"5500 no", Reply{}, false},
		{"", Reply{}, false},
	}
	for _, tt := range tests {
		got, ok := Parse(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("Parse(%q) = %+v %v, want %+v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestIsEnhanced(t *testing.T) {
	for s, want := range map[string]bool{"2.0.0": true, "5.7.1": true, "4.123.999": true, "3.0.0": false,
		"5.1": false, "5.1.1.1": false, "5.1234.1": false, "5.x.1": false, "": false} {
		if IsEnhanced(s) != want {
			t.Errorf("IsEnhanced(%q) = %v", s, !want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"550 5.7.1 go away", "450 x", "250", "5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := Parse(s)
		if !ok {
			return
		}
		if r.Code < 200 || r.Code > 599 {
			t.Fatalf("Parse(%q) code %d", s, r.Code)
		}
		if r.Enhanced != "" && (!IsEnhanced(r.Enhanced) || r.Enhanced[0] != s[0]) {
			t.Fatalf("Parse(%q) enhanced %q", s, r.Enhanced)
		}
		if strings.Count(r.Lines(true), "\r\n") < 1 {
			t.Fatalf("Lines of %+v", r)
		}
	})
}
