// Package ipc is the one framed protocol spoken over every unix socket between
// tern's daemons and commands.
//
// A stream is a sequence of frames. Each frame is
//
//	type   1 byte   ('Q' request, 'R' reply, 'D' body data, 'E' body end)
//	length 4 bytes  big-endian length of the payload, at most MaxPayload
//	payload
//
// Request and reply payloads are a Record: a sequence of attributes, each
// encoded as uvarint(len(name)) name uvarint(len(value)) value. Names may
// repeat (one "rcpt" attribute per recipient); order is kept.
//
// A message body travels as any number of 'D' frames followed by one 'E'
// frame with an empty payload, so a body is streamed and never needs to be
// held whole in memory by either side.
//
// A conversation is always: the client sends a request (optionally followed
// by a body), the server answers with a reply (optionally followed by a
// body). Which requests carry bodies is fixed per request name by the
// endpoint that serves it.
package ipc

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// Frame types.
const (
	FrameRequest byte = 'Q'
	FrameReply   byte = 'R'
	FrameData    byte = 'D'
	FrameEnd     byte = 'E'
)

// MaxPayload bounds one frame's payload so a broken or hostile peer cannot
// make the reader allocate without limit.
const MaxPayload = 1 << 20

// DataChunk is the size of the body frames a BodyWriter emits.
const DataChunk = 64 << 10

// ErrFrameTooLarge is returned when a frame announces a payload above MaxPayload.
var ErrFrameTooLarge = errors.New("ipc: frame too large")

// ErrUnexpectedFrame is returned when a frame of the wrong type arrives.
var ErrUnexpectedFrame = errors.New("ipc: unexpected frame type")

// Attr is one name/value attribute of a Record.
type Attr struct {
	Name  string
	Value string
}

// Record is an ordered list of attributes: the payload of requests and replies.
type Record []Attr

// Get returns the first value of name, or "" when absent.
func (r Record) Get(name string) string {
	for _, a := range r {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Has reports whether name is present.
func (r Record) Has(name string) bool {
	for _, a := range r {
		if a.Name == name {
			return true
		}
	}
	return false
}

// All returns every value of name in order.
func (r Record) All(name string) []string {
	var out []string
	for _, a := range r {
		if a.Name == name {
			out = append(out, a.Value)
		}
	}
	return out
}

// Add appends an attribute and returns the extended record.
func (r Record) Add(name, value string) Record {
	return append(r, Attr{name, value})
}

// Encode appends the wire form of r to dst.
func (r Record) Encode(dst []byte) []byte {
	for _, a := range r {
		dst = binary.AppendUvarint(dst, uint64(len(a.Name)))
		dst = append(dst, a.Name...)
		dst = binary.AppendUvarint(dst, uint64(len(a.Value)))
		dst = append(dst, a.Value...)
	}
	return dst
}

// DecodeRecord parses a record payload.
func DecodeRecord(p []byte) (Record, error) {
	var r Record
	for len(p) > 0 {
		name, rest, err := decodeString(p)
		if err != nil {
			return nil, fmt.Errorf("ipc: attribute name: %w", err)
		}
		value, rest, err := decodeString(rest)
		if err != nil {
			return nil, fmt.Errorf("ipc: attribute %q value: %w", name, err)
		}
		r = append(r, Attr{name, value})
		p = rest
	}
	return r, nil
}

func decodeString(p []byte) (string, []byte, error) {
	n, k := binary.Uvarint(p)
	if k <= 0 {
		return "", nil, errors.New("bad length")
	}
	p = p[k:]
	if n > uint64(len(p)) {
		return "", nil, errors.New("length beyond payload")
	}
	return string(p[:n]), p[n:], nil
}

// Conn is a framed connection. It is not safe for concurrent use.
type Conn struct {
	c  net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	to time.Duration
	// chunk is the BodyWriter's frame buffer, kept from one body to the
	// next (a DataChunk allocation per body otherwise).
	chunk []byte
}

// NewConn wraps c. A non-zero timeout bounds every read and write.
func NewConn(c net.Conn, timeout time.Duration) *Conn {
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10), to: timeout}
}

// Dial connects to the unix socket at path.
func Dial(path string, timeout time.Duration) (*Conn, error) {
	c, err := net.DialTimeout("unix", path, timeout)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", path, err)
	}
	return NewConn(c, timeout), nil
}

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.c }

// SetTimeout changes the per-operation timeout.
func (c *Conn) SetTimeout(d time.Duration) { c.to = d }

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

func (c *Conn) deadline() {
	if c.to > 0 {
		_ = c.c.SetDeadline(time.Now().Add(c.to))
	}
}

// WriteFrame buffers one frame; Flush sends it.
func (c *Conn) WriteFrame(typ byte, payload []byte) error {
	if len(payload) > MaxPayload {
		return ErrFrameTooLarge
	}
	c.deadline()
	return WriteFrame(c.w, typ, payload)
}

// WriteFrame writes one frame to any writer, such as a maildrop file.
func WriteFrame(w io.Writer, typ byte, payload []byte) error {
	if len(payload) > MaxPayload {
		return ErrFrameTooLarge
	}
	var hdr [5]byte
	hdr[0] = typ
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(payload)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// Flush sends buffered frames.
func (c *Conn) Flush() error {
	c.deadline()
	return c.w.Flush()
}

// ReadFrame reads one frame.
func (c *Conn) ReadFrame() (byte, []byte, error) {
	c.deadline()
	return ReadFrame(c.r)
}

// ReadFrame reads one frame from r.
func ReadFrame(r io.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return 0, nil, ErrFrameTooLarge
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return hdr[0], p, nil
}

// Send writes a record frame of the given type and flushes it.
func (c *Conn) Send(typ byte, r Record) error {
	if err := c.WriteFrame(typ, r.Encode(nil)); err != nil {
		return err
	}
	return c.Flush()
}

// Receive reads a record frame that must be of type typ.
func (c *Conn) Receive(typ byte) (Record, error) {
	t, p, err := c.ReadFrame()
	if err != nil {
		return nil, err
	}
	if t != typ {
		return nil, fmt.Errorf("%w: got %q, want %q", ErrUnexpectedFrame, t, typ)
	}
	return DecodeRecord(p)
}

// Call sends a request and waits for the reply.
func (c *Conn) Call(req Record) (Record, error) {
	if err := c.Send(FrameRequest, req); err != nil {
		return nil, err
	}
	return c.Receive(FrameReply)
}

// BodyWriter returns a writer that sends a body as data frames; Close sends
// the end frame and flushes. The connection must not be used for anything
// else until Close.
func (c *Conn) BodyWriter() io.WriteCloser { return &bodyWriter{c: c, buf: c.chunk[:0]} }

type bodyWriter struct {
	c   *Conn
	buf []byte
}

func (b *bodyWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		room := DataChunk - len(b.buf)
		if room > len(p) {
			room = len(p)
		}
		b.buf = append(b.buf, p[:room]...)
		p = p[room:]
		if len(b.buf) == DataChunk {
			if err := b.c.WriteFrame(FrameData, b.buf); err != nil {
				return 0, err
			}
			b.buf = b.buf[:0]
		}
	}
	return n, nil
}

func (b *bodyWriter) Close() error {
	if len(b.buf) > 0 {
		if err := b.c.WriteFrame(FrameData, b.buf); err != nil {
			return err
		}
		b.buf = b.buf[:0]
	}
	b.c.chunk = b.buf[:0] // for the next body on the connection
	if err := b.c.WriteFrame(FrameEnd, nil); err != nil {
		return err
	}
	return b.c.Flush()
}

// BodyReader returns a reader over the body that follows on the connection:
// it yields the data frames' payloads and returns io.EOF at the end frame.
// A connection that closes before the end frame yields io.ErrUnexpectedEOF,
// so a truncated body is never mistaken for a whole one. Payloads are read
// straight into the caller's buffer: a body costs no allocation per frame.
func (c *Conn) BodyReader() io.Reader { return &bodyReader{r: c.r, before: c.deadline} }

// NewBodyReader reads a body from any frame stream, such as a maildrop file
// positioned after its request frame.
func NewBodyReader(r io.Reader) io.Reader { return &bodyReader{r: r} }

type bodyReader struct {
	r      io.Reader
	before func() // called before each frame header (the connection's deadline)
	left   int    // unread payload bytes of the current data frame
	done   bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	for b.left == 0 {
		if b.done {
			return 0, io.EOF
		}
		if err := b.nextFrame(); err != nil {
			return 0, err
		}
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	if err != nil && (n == 0 || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return n, err
	}
	return n, nil
}

// nextFrame reads the next frame header: a data frame's payload is then
// read by Read, an end frame ends the body.
func (b *bodyReader) nextFrame() error {
	if b.before != nil {
		b.before()
	}
	var hdr [5]byte
	if _, err := io.ReadFull(b.r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > MaxPayload {
		return ErrFrameTooLarge
	}
	switch hdr[0] {
	case FrameData:
		b.left = int(n)
	case FrameEnd:
		b.done = true
		if _, err := io.CopyN(io.Discard, b.r, int64(n)); err != nil {
			return io.ErrUnexpectedEOF
		}
	default:
		return fmt.Errorf("%w in body: %q", ErrUnexpectedFrame, hdr[0])
	}
	return nil
}
