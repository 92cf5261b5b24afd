package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// lfWriter writes text converting CRLF line endings to LF. A bare CR (one
// not followed by LF) is kept as it is: it is data, not a line ending, and
// Postfix keeps it too. A CR at the end of a chunk is held back until the
// next chunk shows whether an LF follows.
type lfWriter struct {
	w         *bufio.Writer
	pendingCR bool
	last      byte  // last byte written, if n > 0
	n         int64 // bytes written
}

func (c *lfWriter) put(b []byte) {
	if len(b) == 0 {
		return
	}
	m, _ := c.w.Write(b) // the error sticks in the bufio.Writer; Flush reports it
	c.n += int64(m)
	c.last = b[len(b)-1]
}

func (c *lfWriter) putString(s string) {
	if len(s) == 0 {
		return
	}
	m, _ := c.w.WriteString(s)
	c.n += int64(m)
	c.last = s[len(s)-1]
}

// write converts and writes one chunk.
func (c *lfWriter) write(chunk []byte) {
	if len(chunk) == 0 {
		return
	}
	if c.pendingCR {
		c.pendingCR = false
		if chunk[0] != '\n' {
			c.putString("\r")
		}
	}
	for {
		i := bytes.Index(chunk, []byte("\r\n"))
		if i < 0 {
			break
		}
		c.put(chunk[:i])
		c.putString("\n")
		chunk = chunk[i+2:]
	}
	if n := len(chunk); n > 0 && chunk[n-1] == '\r' {
		c.put(chunk[:n-1])
		c.pendingCR = true
		return
	}
	c.put(chunk)
}

// finish ends a non-empty text with a newline. A CR held back at the end
// of the input is taken as a truncated CRLF and becomes that newline.
func (c *lfWriter) finish() {
	c.pendingCR = false
	if c.n > 0 && c.last != '\n' {
		c.putString("\n")
	}
}

// copyBody streams the rest of r through c, chunk by chunk (each chunk at
// most the size of r's buffer), so that memory use does not depend on the
// message or line size.
func (c *lfWriter) copyBody(r *bufio.Reader) error {
	for {
		chunk, err := r.ReadSlice('\n')
		c.write(chunk)
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			c.finish()
			return nil
		default:
			return fmt.Errorf("read message body: %w", err)
		}
	}
}
