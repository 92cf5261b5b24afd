package milters

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// SpoolMemory is how much of a message a Spool keeps in memory before it
// moves it to a temporary file.
const SpoolMemory = 1 << 20

// Spool holds a message's content while milters look at it: in memory up
// to SpoolMemory, then in a temporary file, which Close removes. Lines
// end in CRLF there, as milters expect (and sign): a bare LF that smtpd
// let through (smtpd_forbid_bare_newline = normalize) becomes CRLF.
type Spool struct {
	mem    bytes.Buffer
	file   *os.File
	size   int64
	lastCR bool // the last byte written was a CR
}

// Write implements io.Writer.
func (s *Spool) Write(p []byte) (int, error) {
	n := len(p)
	var err error
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			err = s.write(p)
			break
		}
		bare := i == 0 && !s.lastCR || i > 0 && p[i-1] != '\r'
		if bare {
			if err = s.write(p[:i]); err == nil {
				err = s.write([]byte("\r\n"))
			}
		} else {
			err = s.write(p[:i+1])
		}
		if err != nil {
			break
		}
		p = p[i+1:]
	}
	return n, err
}

// write stores p as it is.
func (s *Spool) write(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	s.lastCR = p[len(p)-1] == '\r'
	_, err := s.store(p)
	return err
}

// store appends p to memory or the file.
func (s *Spool) store(p []byte) (int, error) {
	s.size += int64(len(p))
	if s.file == nil && s.mem.Len()+len(p) <= SpoolMemory {
		return s.mem.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "tern-smtpd-")
		if err != nil {
			return 0, fmt.Errorf("Spool message: %w", err)
		}
		_ = os.Remove(f.Name()) // unlinked: gone however the session ends
		s.file = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			return 0, fmt.Errorf("Spool message: %w", err)
		}
		s.mem = bytes.Buffer{}
	}
	return s.file.Write(p)
}

// Reader returns a reader over the content from offset on.
func (s *Spool) Reader(offset int64) io.Reader {
	if s.file == nil {
		return bytes.NewReader(s.mem.Bytes()[min(offset, int64(s.mem.Len())):])
	}
	return io.NewSectionReader(s.file, offset, s.size-offset)
}

// Close releases the temporary file.
func (s *Spool) Close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.mem = bytes.Buffer{}
}
