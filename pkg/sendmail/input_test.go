package sendmail

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"root", []string{"root"}},
		{"a@b.example", []string{"a@b.example"}},
		{"a@b, c@d", []string{"a@b", "c@d"}},
		{"a@b,,c@d,", []string{"a@b", "c@d"}},
		{"John Doe <jd@x.example>", []string{"jd@x.example"}},
		{`"Doe, John" <jd@x>, other@y`, []string{"jd@x", "other@y"}},
		{"jd@x (John Doe)", []string{"jd@x"}},
		{"jd@x (nested (comment) here), b", []string{"jd@x", "b"}},
		{"<>", []string{""}},
		{"", nil},
		{"  ", nil},
		{"undisclosed-recipients:;", nil},
		{"team: a@x, b@y;, c@z", []string{"a@x", "b@y", "c@z"}},
		{"<@relay.example:user@dest.example>", []string{"user@dest.example"}},
		{`"odd user"@x`, []string{"odd user@x"}},
		{"user @ example . com", []string{"user@example.com"}},
		{"a@[192.0.2.1]", []string{"a@[192.0.2.1]"}},
		{`"unterminated <a@b>`, []string{"unterminated <a@b>"}},
		{"Name <unterminated@x", []string{"unterminated@x"}},
	}
	for _, tt := range tests {
		if got := parseAddressList(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseAddressList(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSenderOf(t *testing.T) {
	tests := []struct {
		in        string
		want      string
		malformed bool
	}{
		{"me@x", "me@x", false},
		{"<>", "", false},
		{"", "", false},
		{"Me <me@x>", "me@x", false},
		{"a@x, b@y", "a@x", true},
	}
	for _, tt := range tests {
		got, bad := senderOf(tt.in)
		if got != tt.want || bad != tt.malformed {
			t.Errorf("senderOf(%q) = %q, %v; want %q, %v", tt.in, got, bad, tt.want, tt.malformed)
		}
	}
}

// readAll drains a lineReader.
func readAll(t *testing.T, l *lineReader) string {
	t.Helper()
	var b strings.Builder
	for n := 0; n < 1<<20; n++ {
		p, err := l.next()
		if errors.Is(err, io.EOF) {
			return b.String()
		}
		if err != nil {
			t.Fatal(err)
		}
		b.Write(p)
	}
	t.Fatal("runaway reader")
	return ""
}

func TestLineReader(t *testing.T) {
	tests := []struct {
		name                       string
		in                         string
		dotEnds, unstuff, skipFrom bool
		want                       string
		sawDot                     bool
	}{
		{"empty", "", true, false, true, "", false},
		{"plain", "a\nb\n", true, false, true, "a\nb\n", false},
		{"dot ends without -i", "a\n.\nb\n", true, false, true, "a\n", true},
		{"dot kept with -i", "a\n.\nb\n", false, false, true, "a\n.\nb\n", false},
		{"dot CRLF ends", "a\r\n.\r\nb\r\n", true, false, true, "a\n", true},
		{"dot at EOF without newline", "a\n.", true, false, true, "a\n", true},
		{"only exact dot ends", "a\n..\n. \n .\nb\n", true, false, true, "a\n..\n. \n .\nb\n", false},
		{"CRLF to LF", "a\r\nb\r\r\n\r\nc\r\n", false, false, true, "a\nb\n\nc\n", false},
		{"inner CR kept", "a\rb\r\n", false, false, true, "a\rb\n", false},
		{"final line gets newline", "a\nb", false, false, true, "a\nb\n", false},
		{"From_ skipped", "From me Mon Jan 1\n>From x\nSubject: s\n\nFrom body\n", false, false, true, "Subject: s\n\nFrom body\n", false},
		{"From_ kept in SMTP", "From me\n.\n", true, true, false, "From me\n", true},
		{"SMTP unstuffing", "..a\r\n.\r\n..\r\n.\r\n", true, true, false, ".a\n", true},
		{"SMTP stuffed dot line", "..\r\nx\r\n.\r\n", true, true, false, ".\nx\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLineReader(strings.NewReader(tt.in))
			l.dotEnds, l.unstuff, l.skipFrom = tt.dotEnds, tt.unstuff, tt.skipFrom
			if got := readAll(t, l); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if l.sawDot != tt.sawDot {
				t.Errorf("sawDot = %v, want %v", l.sawDot, tt.sawDot)
			}
		})
	}
}

func TestLineReaderLongLines(t *testing.T) {
	long := strings.Repeat("x", inputBufferSize*2+17)
	crs := strings.Repeat("y", inputBufferSize-1) + "\r\rz"
	tests := []struct {
		name, in, want string
	}{
		{"long line", long + "\r\n.\r\n", long + "\n"},
		{"long unterminated", long, long + "\n"},
		{"CR across pieces kept inside", crs + "\r\n", crs + "\n"},
		{"CR across pieces trailing", strings.Repeat("y", inputBufferSize-1) + "\r\r\n", strings.Repeat("y", inputBufferSize-1) + "\n"},
		{"long From_ dropped", "From " + long + "\nbody\n", "body\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLineReader(strings.NewReader(tt.in))
			l.dotEnds, l.skipFrom = true, true
			if got := readAll(t, l); got != tt.want {
				t.Errorf("got %d bytes %q..., want %d bytes", len(got), got[:min(len(got), 40)], len(tt.want))
			}
		})
	}
}

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		head      string
		rcpts     []string
		remaining string
	}{
		{
			name:      "to cc bcc",
			in:        "From: a@x\r\nTo: b@y,\r\n  C <c@z>\r\nCc: d@w\r\nBcc: secret@s,\r\n\tother@s\r\nSubject: hi\r\n\r\nBcc: not a header\r\n",
			head:      "From: a@x\nTo: b@y,\n  C <c@z>\nCc: d@w\nSubject: hi\n\n",
			rcpts:     []string{"b@y", "c@z", "d@w", "secret@s", "other@s"},
			remaining: "Bcc: not a header\n",
		},
		{
			name:  "resent wins",
			in:    "To: old@x\nResent-To: new@y\nResent-Bcc: hidden@z\nCC: old2@x\n\nbody\n",
			head:  "To: old@x\nResent-To: new@y\nCC: old2@x\n\n",
			rcpts: []string{"new@y", "hidden@z"}, remaining: "body\n",
		},
		{
			name: "case and space before colon",
			in:   "tO : root\nBCC:x\n\n",
			head: "tO : root\n\n", rcpts: []string{"root", "x"},
		},
		{
			name: "no blank line, body starts",
			in:   "To: a@b\nthis is body\nTo: c@d\n",
			head: "To: a@b\nthis is body\n", rcpts: []string{"a@b"}, remaining: "To: c@d\n",
		},
		{name: "no header", in: "hello\n", head: "hello\n", rcpts: nil},
		{name: "empty", in: "", head: "", rcpts: nil},
		{name: "dot ends header", in: "To: a\n.\nTo: b\n", head: "To: a\n", rcpts: []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLineReader(strings.NewReader(tt.in))
			l.dotEnds, l.skipFrom = true, true
			head, rcpts, err := readHeader(l)
			if err != nil {
				t.Fatal(err)
			}
			if string(head) != tt.head {
				t.Errorf("head = %q, want %q", head, tt.head)
			}
			if !reflect.DeepEqual(rcpts, tt.rcpts) {
				t.Errorf("rcpts = %q, want %q", rcpts, tt.rcpts)
			}
			if rest := readAll(t, l); rest != tt.remaining {
				t.Errorf("remaining = %q, want %q", rest, tt.remaining)
			}
		})
	}
}

func FuzzAddressList(f *testing.F) {
	for _, s := range []string{"a@b, C <c@d>", `"x y"@z (c)`, "g: a, b;", "<@r:u@d>", "((", `"\`, "[1.2.3.4", "\"\r", "\"\\\r", "[a\r\nb]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range parseAddressList(s) {
			if strings.ContainsAny(a, "\r\n") {
				t.Fatalf("address %q from %q contains a line break", a, s)
			}
		}
		senderOf(s)
	})
}

func FuzzReadHeader(f *testing.F) {
	for _, s := range []string{"To: a\r\nBcc: b\r\n\r\nbody\r\n.\r\n", "From x\n>From y\nCc: c\n\tz\n", "\r\r\r", ".\n"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, dotEnds bool) {
		l := newLineReader(strings.NewReader(in))
		l.dotEnds, l.skipFrom = dotEnds, true
		head, _, err := readHeader(l)
		if err != nil {
			t.Fatal(err)
		}
		rest := readAll(t, l)
		out := string(head) + rest
		if len(out) > len(in)+1 {
			t.Fatalf("output %q longer than input %q", out, in)
		}
		if out != "" && !strings.HasSuffix(out, "\n") {
			t.Fatalf("output %q does not end with a newline", out)
		}
		if strings.Contains(out, "\r\n") {
			t.Fatalf("output %q has CRLF", out)
		}
	})
}
