package client

import (
	"bufio"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReadReply(t *testing.T) {
	tests := []struct {
		in       string
		code     int
		enhanced string
		text     string
		lines    []string
		err      error // errors.Is target; nil for success
	}{
		{in: "250 ok\r\n", code: 250, enhanced: "2.0.0", text: "250 ok", lines: []string{"ok"}},
		{in: "550 5.1.1 <x@y>: Recipient address rejected: User unknown\r\n", code: 550, enhanced: "5.1.1",
			text: "550 5.1.1 <x@y>: Recipient address rejected: User unknown"},
		{in: "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n", code: 250, enhanced: "2.0.0",
			text: "250-mx.example 250-PIPELINING 250 8BITMIME", lines: []string{"mx.example", "PIPELINING", "8BITMIME"}},
		{in: "220\r\n", code: 220, enhanced: "2.0.0", text: "220", lines: []string{""}},
		{in: "250 ok\n", code: 250, enhanced: "2.0.0", text: "250 ok"},
		{in: "450 5.1.1 mismatched class\r\n", code: 450, enhanced: "4.0.0", text: "450 5.1.1 mismatched class"},
		{in: "421 4.3.2 bye\r\n", code: 421, enhanced: "4.3.2", text: "421 4.3.2 bye"},
		{in: "250 bad\x01ctl\xff\r\n", code: 250, enhanced: "2.0.0", text: "250 bad?ctl?"},
		{in: "250 " + strings.Repeat("x", 5000) + "\r\n", code: 250, text: "250 " + strings.Repeat("x", maxReplyLine-4)},
		{in: "hello\r\n", err: errMalformed},
		{in: "150 no\r\n", err: errMalformed},
		{in: "2x0 no\r\n", err: errMalformed},
		{in: "250_ok\r\n", err: errMalformed},
		{in: "250-a\r\n251 b\r\n", err: errMalformed},
		{in: "", err: io.EOF},
		{in: "250-partial\r\n", err: io.ErrUnexpectedEOF},
		{in: "250 no line end", err: io.ErrUnexpectedEOF},
		{in: strings.Repeat("250-x\r\n", maxReplyLines+1), err: errMalformed},
	}
	for _, tc := range tests {
		r, err := readReply(bufio.NewReaderSize(strings.NewReader(tc.in), 16))
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("readReply(%.40q) error %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("readReply(%.40q): %v", tc.in, err)
			continue
		}
		if r.Code != tc.code || r.Text != tc.text || (tc.enhanced != "" && r.Enhanced != tc.enhanced) {
			t.Errorf("readReply(%.40q) = %d %q %.60q, want %d %q %.60q", tc.in, r.Code, r.Enhanced, r.Text, tc.code, tc.enhanced, tc.text)
		}
		if tc.lines != nil && strings.Join(r.lines, "|") != strings.Join(tc.lines, "|") {
			t.Errorf("readReply(%q) lines %q, want %q", tc.in, r.lines, tc.lines)
		}
	}
}

func TestReadReplySequence(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("250 a\r\n550-b\r\n550 c\r\n354 d\r\n"))
	var got []string
	for i := 0; i < 3; i++ {
		r, err := readReply(br)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Text)
	}
	if want := "250 a|550-b 550 c|354 d"; strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseEHLO(t *testing.T) {
	tests := []struct {
		lines []string
		want  map[string]string
	}{
		{[]string{"mx"}, map[string]string{}},
		{[]string{"mx", "PIPELINING", "size  1000 ", "8bitmime", "AUTH PLAIN  LOGIN", "AUTH=LOGIN", ""},
			map[string]string{"PIPELINING": "", "SIZE": "1000", "8BITMIME": "", "AUTH": "PLAIN LOGIN"}},
		{[]string{"mx", "AUTH=LOGIN PLAIN", "DSN"}, map[string]string{"AUTH": "LOGIN PLAIN", "DSN": ""}},
		{[]string{"mx", "  ", "STARTTLS"}, map[string]string{"STARTTLS": ""}},
	}
	for _, tc := range tests {
		if got := parseEHLO(tc.lines); !maps.Equal(got, tc.want) {
			t.Errorf("parseEHLO(%q) = %v, want %v", tc.lines, got, tc.want)
		}
	}
}

func TestSizeLimit(t *testing.T) {
	tests := []struct {
		ext  map[string]string
		want int64
	}{
		{map[string]string{}, 0},
		{map[string]string{"SIZE": ""}, 0},
		{map[string]string{"SIZE": "0"}, 0},
		{map[string]string{"SIZE": "10240000"}, 10240000},
		{map[string]string{"SIZE": "-5"}, 0},
		{map[string]string{"SIZE": "many"}, 0},
	}
	for _, tc := range tests {
		if got := sizeLimit(tc.ext); got != tc.want {
			t.Errorf("sizeLimit(%v) = %d, want %d", tc.ext, got, tc.want)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{"250 ok\r\n", "250-a\r\n250 b\r\n", "550 5.1.1 x\r\n", "220\r\n", "hello\r\n", "250-\r\n", "421 4.3.2 x\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(in)), 16)
		for i := 0; i < 50; i++ {
			r, err := readReply(br)
			if err != nil {
				return
			}
			if r.Code < 200 || r.Code > 599 || len(r.lines) == 0 || len(r.lines) > maxReplyLines {
				t.Fatalf("bad reply %+v", r)
			}
			if !utf8.ValidString(r.Text) || strings.ContainsAny(r.Text, "\r\n\x00") {
				t.Fatalf("unclean text %q", r.Text)
			}
			if len(r.Enhanced) < 5 || int(r.Enhanced[0]-'0') != r.Code/100 {
				t.Fatalf("enhanced %q for %d", r.Enhanced, r.Code)
			}
			if !strings.HasPrefix(r.Text, r.Text[:3]) || r.Text[:3] != itoa3(r.Code) {
				t.Fatalf("text %q does not start with the code %d", r.Text, r.Code)
			}
		}
	})
}

func itoa3(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func FuzzParseEHLO(f *testing.F) {
	f.Add("mx\nPIPELINING\nSIZE 100\nAUTH=LOGIN\nAUTH PLAIN")
	f.Add("mx\n\n  \nx y z")
	f.Fuzz(func(t *testing.T, in string) {
		ext := parseEHLO(strings.Split(in, "\n"))
		for k, v := range ext {
			if k == "" || k != strings.ToUpper(k) || strings.ContainsAny(k, " \t") {
				t.Fatalf("bad keyword %q", k)
			}
			if v != strings.Join(strings.Fields(v), " ") {
				t.Fatalf("parameter %q not normalised", v)
			}
		}
		_ = sizeLimit(ext)
	})
}
