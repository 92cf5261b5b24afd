package smtpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// beforeContent runs what DATA and the first BDAT share: the sequence
// checks, the data restrictions and opening the queue submission.
func (s *session) beforeContent(ctx context.Context) (*queueSubmission, reply.Reply) {
	if s.tx == nil {
		return nil, reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: need MAIL command")
	}
	if len(s.tx.rcpts) == 0 {
		return nil, reply.New(reply.CodeFailed, reply.StatusBadCommand, "Error: no valid recipients")
	}
	if s.tx.discard {
		return &queueSubmission{discard: true}, reply.Reply{}
	}
	if r := s.check(ctx, restrict.Data, ""); !r.IsZero() {
		return nil, r
	}
	if s.tx.proxy != nil {
		return s.proxyData()
	}
	if s.srv.set.proxy != nil {
		// speed_adjust: the message is kept until it is all in.
		return &queueSubmission{spool: &milters.Spool{}}, reply.Reply{}
	}
	if s.milt != nil {
		// The milters see the content first; qmgr gets it after them.
		return &queueSubmission{spool: &milters.Spool{}}, reply.Reply{}
	}
	q, err := s.srv.openQueue(s)
	if err != nil {
		s.srv.log.Warnf("%s: queue submission: %v", s.client, err)
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	return q, reply.Reply{}
}

// data serves DATA (RFC 5321 section 4.1.1.4): 354, the content, and the
// reply that says whether it is queued, after qmgr has made it durable.
func (s *session) data(ctx context.Context, arg string) reply.Reply {
	if arg != "" {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: DATA")
	}
	if s.tx != nil && s.tx.chunks != nil {
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: DATA after BDAT")
	}
	q, r := s.beforeContent(ctx)
	if !r.IsZero() {
		return r
	}
	s.send(reply.New(reply.CodeStartData, "", "End data with <CR><LF>.<CR><LF>"))
	if err := s.flush(); err != nil {
		q.abort()
		s.lost(err)
		s.closing = true
		return reply.Reply{}
	}
	restore := s.useContentReader()
	res, err := readData(s.br, q, s.srv.set.sizeLimit, s.newContentDeadline().renew)
	restore()
	if err != nil {
		q.abort()
		s.lost(err)
		s.srv.log.Infof("lost connection after DATA (%d bytes) from %s", res.size, s.client)
		s.closing = true
		s.tx = nil
		return reply.Reply{}
	}
	switch {
	case res.tooBig:
		q.abort()
		s.endTransaction()
		return replyTooBig
	case res.bareLF && s.rejectBareLF():
		q.abort()
		s.endTransaction()
		return s.bareLFReply()
	}
	return s.finish(ctx, q)
}

// replyDiscarded answers the end of a message that a DISCARD action
// drops: the delivery is claimed, without a queue id.
var replyDiscarded = reply.New(reply.CodeOK, reply.StatusOK, "Ok")

var replyTooBig = reply.New(reply.CodeExceededStorage, reply.StatusTooBig, "Error: message file too big")

// finish runs the end-of-data restrictions, completes the submission and
// ends the transaction.
func (s *session) finish(ctx context.Context, q *queueSubmission) reply.Reply {
	defer s.endTransaction()
	defer s.flushHistory()
	// The end-of-data restrictions may discard the message too.
	if !s.tx.discard {
		if r := s.check(ctx, restrict.EndOfData, ""); !r.IsZero() {
			q.abort()
			return r
		}
	}
	if s.tx.discard {
		// Claim delivery, as DISCARD asks; the content goes nowhere.
		q.abort()
		return replyDiscarded
	}
	if q.proxy != nil {
		return s.proxyEnd(q.proxy)
	}
	if q.spool != nil && s.srv.set.proxy != nil {
		return s.proxyReplay(ctx, q)
	}
	if q.spool != nil {
		var r reply.Reply
		if q, r = s.filtered(q); !r.IsZero() {
			return r
		}
	}
	// qmgr logs the client= line (clientLog) as it queues the message.
	id, r := q.finish()
	if r.IsZero() {
		s.junk = 0 // as Postfix: the junk count starts again after mail is queued
		return reply.New(reply.CodeOK, reply.StatusOK, "Ok: queued as %s", id)
	}
	return r
}

// clientLog is the client= line of the transaction's message, after its
// queue id: "client=name[addr]" with the forwarded attributes and the SASL
// login, as Postfix's smtpd logs it. smtpd does not write it: qmgr does,
// under smtpd's name and process id, once the message is queued and
// before its own lines about it (Postfix's smtpd logs it first, knowing
// the queue id from MAIL FROM on; tern's learns it only from qmgr's
// answer, by when qmgr may have delivered the message).
func (s *session) clientLog() string {
	line := "client=" + s.client.String() + s.forwardedLog()
	if s.authUser != "" {
		line += fmt.Sprintf(", sasl_method=%s, sasl_username=%s", s.authMech, s.authUser)
	}
	return line
}

// chunking is the state of a BDAT transfer (RFC 3030).
type chunking struct {
	q      *queueSubmission
	size   int64
	failed reply.Reply // once set, every chunk up to LAST gets it
}

func (c *chunking) abort() {
	if c.q != nil {
		c.q.abort()
		c.q = nil
	}
}

// bdat serves BDAT size [LAST] (RFC 3030 section 2). The chunk is read in
// full whatever the reply, so the session stays in step with the client.
func (s *session) bdat(ctx context.Context, arg string) reply.Reply {
	fields := strings.Fields(arg)
	n, err := strconv.ParseInt(firstOr(fields, ""), 10, 64)
	if err != nil || n < 0 || len(fields) > 2 || len(fields) == 2 && !strings.EqualFold(fields[1], "LAST") {
		// The chunk size is unknown, so the session cannot stay in step.
		s.closing = true
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: BDAT count [LAST]")
	}
	last := len(fields) == 2
	if s.srv.set.proxy != nil {
		// CHUNKING is not offered with a before-queue filter (session.go).
		if err := s.discard(n); err != nil {
			return s.lostInChunk(err)
		}
		return replyNotRecognized
	}
	if s.tx == nil || s.tx.chunks == nil {
		q, r := s.beforeContent(ctx)
		if !r.IsZero() {
			if err := s.discard(n); err != nil {
				return s.lostInChunk(err)
			}
			return r
		}
		s.tx.chunks = &chunking{q: q}
	}
	c := s.tx.chunks
	if err := s.readChunk(c, n); err != nil {
		return s.lostInChunk(err)
	}
	if !c.failed.IsZero() {
		if last {
			c.abort()
			s.endTransaction()
		}
		return c.failed
	}
	if !last {
		return reply.New(reply.CodeOK, reply.StatusOK, "Ok: %d bytes", n)
	}
	q := c.q
	c.q = nil
	return s.finish(ctx, q)
}

func firstOr(f []string, def string) string {
	if len(f) == 0 {
		return def
	}
	return f[0]
}

// readChunk copies n bytes of a chunk into the submission, or drops them
// once the transfer has failed or grown too big.
func (s *session) readChunk(c *chunking, n int64) error {
	if !c.failed.IsZero() {
		return s.discard(n)
	}
	lim := s.srv.set.sizeLimit
	if lim > 0 && c.size+n > lim {
		c.failed = replyTooBig
		c.abort()
		return s.discard(n)
	}
	c.size += n
	if err := s.copyN(c.q, n); err != nil {
		var qe *queueWriteError
		if errors.As(err, &qe) {
			c.failed = reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
			c.abort()
			return s.discard(n - qe.written)
		}
		return err
	}
	return nil
}

func (s *session) discard(n int64) error { return s.copyN(io.Discard, n) }

// copyN copies n bytes from the client to w under one content deadline
// (deadline.go), renewed before each read. A write failure is a
// *queueWriteError.
func (s *session) copyN(w io.Writer, n int64) error {
	buf := make([]byte, 32<<10)
	restore := s.useContentReader()
	defer restore()
	d := s.newContentDeadline()
	var done int64
	for done < n {
		d.renew(done)
		want := min(int64(len(buf)), n-done)
		k, err := s.br.Read(buf[:want])
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return &queueWriteError{written: done + int64(k), err: werr}
			}
			done += int64(k)
		}
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
	return nil
}

type queueWriteError struct {
	written int64
	err     error
}

func (e *queueWriteError) Error() string { return "queue write: " + e.err.Error() }

func (s *session) lostInChunk(err error) reply.Reply {
	s.reset()
	s.lost(err)
	s.closing = true
	return reply.Reply{}
}
