package message

import (
	"bufio"
	"io"
	"strings"
	"testing"
)

// TestPeekMessageID: the Message-Id of a message queued as it is, read
// from the start of the stream without consuming it.
func TestPeekMessageID(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"plain", "Subject: x\nMessage-Id: <a.1@example.org>\n\nbody\n", "<a.1@example.org>"},
		{"folded, CRLF", "Message-ID:\r\n\t<b.2@example.org>\r\nSubject: y\r\n\r\nbody\r\n", "<b.2@example.org>"},
		{"after a From_ line", "From alice Mon Jan  1 00:00:00 2026\nMessage-Id: <c@x>\n\n", "<c@x>"},
		{"none", "Subject: z\n\nMessage-Id: <in.the@body>\n", ""},
		{"empty", "", ""},
		{"past the buffer", "X-Big: " + strings.Repeat("x", 70000) + "\nMessage-Id: <late@x>\n\n", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 64<<10)
			if got := PeekMessageID(br); got != tt.want {
				t.Errorf("PeekMessageID = %q, want %q", got, tt.want)
			}
			if rest, _ := io.ReadAll(br); string(rest) != tt.in {
				t.Errorf("the stream lost %d bytes", len(tt.in)-len(rest))
			}
		})
	}
}
