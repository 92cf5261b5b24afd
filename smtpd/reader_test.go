package smtpd

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestContentReaderHandsOverReadAhead: input the client sent ahead is
// never lost or reordered when the session switches between its command
// reader and a pooled content reader, whatever the split of the reads.
func TestContentReaderHandsOverReadAhead(t *testing.T) {
	body := strings.Repeat("x", 70<<10)
	input := "DATA\r\n" + body + "\r\n.\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nshort\r\n.\r\nQUIT\r\n"
	for _, chunk := range []int{1, 7, 4096, 70 << 10, len(input)} {
		srv := &Server{}
		s := &session{srv: srv}
		s.readFrom(&chunkReader{data: []byte(input), chunk: chunk})
		var got strings.Builder
		readCommand := func() {
			line, err := s.br.ReadString('\n')
			if err != nil {
				t.Fatalf("chunk %d: command: %v", chunk, err)
			}
			got.WriteString(line)
		}
		readContent := func() {
			restore := s.useContentReader()
			defer restore()
			for {
				line, err := s.br.ReadString('\n')
				if err != nil {
					t.Fatalf("chunk %d: content: %v", chunk, err)
				}
				got.WriteString(line)
				if line == ".\r\n" {
					return
				}
			}
		}
		readCommand()
		readContent()
		readCommand()
		readCommand()
		readCommand()
		readContent()
		if s.pendingInput() == 0 && chunk >= len(input) {
			t.Errorf("chunk %d: QUIT read ahead but not pending", chunk)
		}
		readCommand()
		if got.String() != input {
			t.Fatalf("chunk %d: read %d bytes, want the %d sent, in order", chunk, got.Len(), len(input))
		}
		if _, err := s.br.ReadByte(); !errors.Is(err, io.EOF) {
			t.Errorf("chunk %d: after all input: %v, want EOF", chunk, err)
		}
	}
}

// TestContentReaderKeepsInputBeforeEOF: a client that sends its last
// command and closes at once still has the command read, though the
// command reader had seen the end of input when the switch happened.
func TestContentReaderKeepsInputBeforeEOF(t *testing.T) {
	s := &session{srv: &Server{}}
	s.readFrom(&lastReader{data: []byte("DATA\r\nbody\r\n.\r\nQUIT\r\n")})
	// The command reader takes in the whole input with the EOF, and keeps
	// the EOF for after what it buffered.
	if line, err := s.br.ReadString('\n'); line != "DATA\r\n" || err != nil {
		t.Fatalf("command %q, %v", line, err)
	}
	restore := s.useContentReader()
	for _, want := range []string{"body\r\n", ".\r\n"} {
		if line, err := s.br.ReadString('\n'); line != want {
			t.Fatalf("content %q, %v; want %q", line, err, want)
		}
	}
	restore()
	if line, err := s.br.ReadString('\n'); line != "QUIT\r\n" {
		t.Fatalf("after content: %q, %v; want QUIT", line, err)
	}
}

// lastReader returns all its data with io.EOF in one Read, as a
// connection may.
type lastReader struct{ data []byte }

func (l *lastReader) Read(p []byte) (int, error) {
	n := copy(p, l.data)
	l.data = l.data[n:]
	return n, io.EOF
}

// chunkReader returns its data at most chunk bytes per Read.
type chunkReader struct {
	data  []byte
	chunk int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.chunk)], c.data)
	c.data = c.data[n:]
	return n, nil
}

// TestContentReadersBounded: past maxContentReaders, sessions keep their
// command reader for content, and a reader put back is free again.
func TestContentReadersBounded(t *testing.T) {
	srv := &Server{}
	var restores []func()
	for i := 0; i < maxContentReaders+2; i++ {
		s := &session{srv: srv}
		s.readFrom(strings.NewReader("data\r\n"))
		small := s.br
		restores = append(restores, s.useContentReader())
		if large := s.br != small; large != (i < maxContentReaders) {
			t.Fatalf("session %d: large reader %v with %d out", i, large, i)
		}
	}
	restores[0]()
	s := &session{srv: srv}
	s.readFrom(strings.NewReader("data\r\n"))
	small := s.br
	defer s.useContentReader()()
	if s.br == small {
		t.Error("no large reader after one was put back")
	}
	for _, r := range restores[1:] {
		r()
	}
}
