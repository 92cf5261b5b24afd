package message

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// lfWriter writes text converting CRLF line endings to LF. A stray CR
// (one not followed by LF) becomes a space when replaceCR is set, as
// Postfix's cleanup_replace_stray_cr_lf does against outbound SMTP
// smuggling; otherwise it is kept as data. A CR at the end of a chunk is
// held back until the next chunk shows whether an LF follows. (A bare LF
// is a line ending in tern's queue files, so there is no stray LF.)
type lfWriter struct {
	w         *bufio.Writer
	replaceCR bool
	pendingCR bool
	last      byte  // last byte written, if n > 0
	n         int64 // bytes written
	eightBit  bool  // a byte written had its high bit set
}

func (c *lfWriter) put(b []byte) {
	if len(b) == 0 {
		return
	}
	c.eightBit = c.eightBit || Has8Bit(b)
	m, _ := c.w.Write(b) // the error sticks in the bufio.Writer; Flush reports it
	c.n += int64(m)
	c.last = b[len(b)-1]
}

func (c *lfWriter) putString(s string) {
	if len(s) == 0 {
		return
	}
	if c.replaceCR && strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r", " ")
	}
	c.eightBit = c.eightBit || Has8BitString(s)
	m, _ := c.w.WriteString(s)
	c.n += int64(m)
	c.last = s[len(s)-1]
}

// write converts and writes one chunk, in one scan for CRs.
func (c *lfWriter) write(chunk []byte) {
	if len(chunk) == 0 {
		return
	}
	if c.pendingCR {
		c.pendingCR = false
		if chunk[0] != '\n' {
			c.putString("\r") // stray; putString replaces it when asked
		}
	}
	for {
		i := bytes.IndexByte(chunk, '\r')
		switch {
		case i < 0:
			c.put(chunk)
			return
		case i == len(chunk)-1:
			c.put(chunk[:i])
			c.pendingCR = true
			return
		case chunk[i+1] == '\n':
			c.put(chunk[:i])
			c.putString("\n")
			chunk = chunk[i+2:]
		case c.replaceCR:
			c.put(chunk[:i])
			c.putString(" ")
			chunk = chunk[i+1:]
		default:
			c.put(chunk[:i+1])
			chunk = chunk[i+1:]
		}
	}
}

// finish ends a non-empty text with a newline. A CR held back at the end
// of the input is taken as a truncated CRLF and becomes that newline.
func (c *lfWriter) finish() {
	c.pendingCR = false
	if c.n > 0 && c.last != '\n' {
		c.putString("\n")
	}
}

// copyBody streams the rest of r through c, a buffer at a time, so that
// memory use does not depend on the message or line size. It converts
// what r holds at once, not line by line: per-line calls were most of
// cleanup's CPU for a message of short lines.
func (c *lfWriter) copyBody(r *bufio.Reader) error {
	for {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); errors.Is(err, io.EOF) {
				c.finish()
				return nil
			} else if err != nil {
				return fmt.Errorf("read message body: %w", err)
			}
		}
		chunk, _ := r.Peek(r.Buffered())
		c.write(chunk)
		_, _ = r.Discard(len(chunk))
	}
}

// Has8Bit reports whether b holds a byte with the high bit set: content
// that needs BODY=8BITMIME, or a downgrade, to pass through SMTP.
func Has8Bit(b []byte) bool {
	// Eight bytes at a time: this runs over every byte of every message.
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// Has8BitString reports whether s has a byte with the high bit set.
func Has8BitString(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return true
		}
	}
	return false
}

// EightBitWriter passes writes to W and remembers whether any byte had
// its high bit set.
type EightBitWriter struct {
	W        io.Writer
	EightBit bool
}

// Write implements io.Writer.
func (e *EightBitWriter) Write(b []byte) (int, error) {
	e.EightBit = e.EightBit || Has8Bit(b)
	return e.W.Write(b)
}
