package smtpd

import (
	"bufio"
	"io"
	"sync"
	"sync/atomic"
)

// Between commands a session reads through a small buffer, so that
// thousands of idle sessions stay cheap; message content is read through a
// large one taken from a pool, so that a 100 KB message costs a few reads
// from the socket instead of twenty-five. At most maxContentReaders are
// out at once, so that thousands of clients trickling content hold no
// more memory than they did: those past the limit keep the small buffer.
const (
	commandReaderSize = 4096
	contentReaderSize = 64 << 10
	maxContentReaders = 128
)

// contentReaders pools the large readers that sessions use for content.
type contentReaders struct {
	pool  sync.Pool
	inUse atomic.Int32
}

// get returns a large reader, or nil when maxContentReaders are out.
func (p *contentReaders) get() *bufio.Reader {
	if p.inUse.Add(1) > maxContentReaders {
		p.inUse.Add(-1)
		return nil
	}
	if br, ok := p.pool.Get().(*bufio.Reader); ok {
		return br
	}
	return bufio.NewReaderSize(nil, contentReaderSize)
}

func (p *contentReaders) put(br *bufio.Reader) {
	br.Reset(nil)
	p.pool.Put(br)
	p.inUse.Add(-1)
}

// carrySource is what a session's readers read from: first the bytes
// carried over from the reader used before (input the client sent ahead),
// then the connection.
type carrySource struct {
	carry []byte
	conn  io.Reader
}

func (c *carrySource) Read(p []byte) (int, error) {
	if len(c.carry) > 0 {
		n := copy(p, c.carry)
		c.carry = c.carry[n:]
		return n, nil
	}
	return c.conn.Read(p)
}

// hand moves what br has buffered in front of the carried bytes; br is
// left empty.
func (c *carrySource) hand(br *bufio.Reader) {
	n := br.Buffered()
	if n == 0 {
		return
	}
	ahead, _ := br.Peek(n)
	carry := make([]byte, 0, n+len(c.carry))
	c.carry = append(append(carry, ahead...), c.carry...)
	_, _ = br.Discard(n)
}

// readFrom makes the session read commands from r (the connection, or
// the TLS layer over it), dropping anything buffered or carried.
func (s *session) readFrom(r io.Reader) {
	s.src = &carrySource{conn: r}
	s.br = bufio.NewReaderSize(s.src, commandReaderSize)
}

// pendingInput is how many bytes the client has sent that the session
// has read from the socket but not yet used.
func (s *session) pendingInput() int { return s.br.Buffered() + len(s.src.carry) }

// useContentReader makes s.br a large pooled reader, which continues
// where the command reader stopped; the returned function puts the
// command reader back, handing it what the large one read ahead. When
// none is free, s.br stays as it is.
func (s *session) useContentReader() (restore func()) {
	big := s.srv.contentReaders.get()
	if big == nil {
		return func() {}
	}
	small := s.br
	s.src.hand(small)
	small.Reset(s.src) // clears a read error kept with the bytes handed on
	big.Reset(s.src)
	s.br = big
	return func() {
		s.src.hand(big)
		s.srv.contentReaders.put(big)
		s.br = small
	}
}
