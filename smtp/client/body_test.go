package client

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func content(t testing.TB, in string, limit int) string {
	t.Helper()
	var b strings.Builder
	w := bufio.NewWriterSize(&b, 16)
	if err := writeContent(w, iotest.HalfReader(strings.NewReader(in)), limit); err != nil {
		t.Fatalf("writeContent: %v", err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriteContent(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
	}{
		{"", 0, ""},
		{"a\nb\n", 0, "a\r\nb\r\n"},
		{"no final newline", 0, "no final newline\r\n"},
		{".\n..\n.x\nx.\n", 0, "..\r\n...\r\n..x\r\nx.\r\n"},
		{".", 0, "..\r\n"},
		{"crlf\r\nstays\r\n", 0, "crlf\r\nstays\r\n"},
		{"bare\rcr\r", 0, "bare\rcr\r\r\n"},
		{"\n\n", 0, "\r\n\r\n"},
		{"abcdef\n", 3, "abc\r\n de\r\n f\r\n"},
		{"abc\n", 3, "abc\r\n"},
		{".abcd\n", 3, "..a\r\n bc\r\n d\r\n"},
		{strings.Repeat("x", 70000) + "\n.", 0, strings.Repeat("x", 70000) + "\r\n..\r\n"},
	}
	for _, tc := range tests {
		if got := content(t, tc.in, tc.limit); got != tc.want {
			t.Errorf("writeContent(%.30q, %d) = %.60q, want %.60q", tc.in, tc.limit, got, tc.want)
		}
	}
}

func TestWriteContentReadError(t *testing.T) {
	boom := errors.New("boom")
	w := bufio.NewWriter(io.Discard)
	err := writeContent(w, io.MultiReader(strings.NewReader("abc\n"), iotest.ErrReader(boom)), 0)
	if !errors.Is(err, boom) || !errors.Is(err, errBodyRead) {
		t.Errorf("writeContent = %v, want a read error wrapping %v", err, boom)
	}
}

// unstuff undoes the SMTP transformation as a server would.
func unstuff(s string) string {
	s = strings.TrimSuffix(s, "\r\n")
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, ".")
	}
	return strings.Join(lines, "\n")
}

func FuzzWriteContent(f *testing.F) {
	f.Add("a\n.b\n..c\nend")
	f.Add("\r\n.\r\n\r")
	f.Fuzz(func(t *testing.T, in string) {
		out := content(t, in, 0)
		if in != "" && !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("no final CRLF: %q", out)
		}
		if strings.Contains("\r\n"+out, "\r\n.\r\n") {
			t.Fatalf("content holds a lone dot line: %q", out)
		}
		if strings.Contains(strings.ReplaceAll(out, "\r\n", ""), "\n") {
			t.Fatalf("bare LF left: %q", out)
		}
		want := strings.TrimSuffix(strings.ReplaceAll(in, "\r\n", "\n"), "\n")
		if got := unstuff(out); in != "" && got != want {
			t.Fatalf("round trip of %q gave %q", in, got)
		}
	})
}
