package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// defaultLineLimit is Postfix's smtp_line_length_limit default.
const defaultLineLimit = 998

// Buffer sizes for message content: reading it from the queue, writing
// it to the server.
const (
	bodyReadBuffer  = 64 << 10
	bodyWriteBuffer = 32 << 10
)

// contentBuffers returns the session's content reader over body and
// writer to the server under ctx's deadlines, made at the first message
// and reused by the next ones on the session (96 KB a message otherwise,
// allocated and cleared each time).
func (s *Session) contentBuffers(ctx context.Context, body io.Reader) (*bufio.Reader, *bufio.Writer) {
	if s.bodyR == nil {
		s.bodyR = bufio.NewReaderSize(body, bodyReadBuffer)
		s.bodyW = bufio.NewWriterSize(s.newDeadlineWriter(ctx), bodyWriteBuffer)
		return s.bodyR, s.bodyW
	}
	s.bodyR.Reset(body)
	s.bodyW.Reset(s.newDeadlineWriter(ctx))
	return s.bodyR, s.bodyW
}

// releaseContent drops the buffers' references to the last message.
func (s *Session) releaseContent() {
	s.bodyR.Reset(nil)
	s.bodyW.Reset(nil)
}

// errBodyRead marks a failure to read the message, as opposed to a
// failure to write it to the server.
var errBodyRead = errors.New("read message content")

// writeContent copies a message stored with LF line ends to w as SMTP
// DATA content: every line ends in CRLF (a CRLF in the input stays one
// CRLF, a last line without LF gets one), a line that starts with '.'
// gets another (RFC 5321 section 4.5.2), and a line longer than limit
// bytes (limit > 0) is broken with CRLF SPACE as Postfix does. The final
// "." line is not written. A *bufio.Reader r is read as it is; another
// reader gets a buffer of bodyReadBuffer bytes.
func writeContent(w *bufio.Writer, r io.Reader, limit int) error {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, bodyReadBuffer)
	}
	col := 0           // bytes written on the current output line
	pendingCR := false // a CR whose meaning depends on the next byte
	for {
		chunk, rerr := br.ReadSlice('\n')
		for _, c := range chunk {
			if pendingCR {
				pendingCR = false
				if c != '\n' {
					col = putByte(w, '\r', col, limit)
				}
			}
			switch c {
			case '\n':
				w.WriteString("\r\n")
				col = 0
			case '\r':
				pendingCR = true
			default:
				col = putByte(w, c, col, limit)
			}
		}
		if _, werr := w.Write(nil); werr != nil { // bufio.Writer keeps its first error
			return werr
		}
		if rerr != nil && !errors.Is(rerr, bufio.ErrBufferFull) {
			if !errors.Is(rerr, io.EOF) {
				return fmt.Errorf("%w: %w", errBodyRead, rerr)
			}
			break
		}
	}
	if pendingCR {
		col = putByte(w, '\r', col, limit)
	}
	if col > 0 {
		w.WriteString("\r\n")
	}
	return nil
}

// putByte writes one content byte at column col and returns the new column.
func putByte(w *bufio.Writer, c byte, col, limit int) int {
	if limit > 0 && col >= limit {
		w.WriteString("\r\n ")
		col = 1
	}
	if col == 0 && c == '.' {
		w.WriteByte('.')
		col++
	}
	w.WriteByte(c)
	return col + 1
}

// deadlineWriter writes a message's content to the session's
// connection. By default each write gets a fresh deadline, as Postfix's
// smtp_data_xfer_timeout applies to each write rather than to the whole
// content; with Options.PerRequestDeadline the content has one deadline,
// which the bytes written move later at Options.MinDataRate.
type deadlineWriter struct {
	s   *Session
	ctx context.Context
	at  time.Time        // the content's deadline (per-request mode)
	now func() time.Time // the clock; tests set it
}

// newDeadlineWriter starts the deadline of one message's content.
func (s *Session) newDeadlineWriter(ctx context.Context) *deadlineWriter {
	return &deadlineWriter{s: s, ctx: ctx, at: time.Now().Add(s.to.Body), now: time.Now}
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if !d.s.opt.PerRequestDeadline {
		if err := d.s.arm(d.ctx, d.s.to.Body); err != nil {
			return 0, err
		}
		return d.s.conn.Write(p)
	}
	if err := d.s.armAt(d.ctx, d.at); err != nil {
		return 0, err
	}
	n, err := d.s.conn.Write(p)
	if rate := d.s.opt.MinDataRate; rate > 0 && n > 0 {
		d.at = d.at.Add(time.Duration(n) * time.Second / time.Duration(rate))
		if ceiling := d.now().Add(d.s.to.Body); d.at.After(ceiling) {
			d.at = ceiling
		}
	}
	return n, err
}

// lineLimit returns the effective smtp_line_length_limit.
func (s *Session) lineLimit() int {
	switch {
	case s.opt.LineLengthLimit == 0:
		return defaultLineLimit
	case s.opt.LineLengthLimit < 0:
		return 0
	}
	return s.opt.LineLengthLimit
}
