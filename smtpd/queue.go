package smtpd

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/pkg/tlsconf"
)

// queueSubmission is one message on its way into qmgr's cleanup service
// (the protocol of qmgr/submit.go): the envelope first, then the content
// as it arrives, then qmgr's verdict. Closing the connection without the
// end frame makes qmgr drop the message: a client that hangs up mid-DATA
// leaves nothing queued.
type queueSubmission struct {
	c    *ipc.Conn
	body io.WriteCloser
	err  error        // the first write error
	pool *cleanupPool // where the connection goes after a complete exchange
	// discard drops the content without a connection to qmgr (a DISCARD
	// action applied before the content).
	discard bool
	// spool keeps the content for smtpd_milters, before it goes to qmgr.
	spool *milters.Spool
	// proxy sends the content to smtpd_proxy_filter instead of qmgr.
	proxy *proxyWriter
}

// cleanupTimeout bounds each exchange with qmgr; the commit that makes a
// message durable happens within it.
const cleanupTimeout = 100 * time.Second

// openQueue starts the submission of s's transaction: the envelope goes
// into the connection's buffer, on an idle connection from an earlier
// message when there is one, and leaves with the content (a 1 KB message
// is then one write and one wake-up of qmgr, not two). A kept connection
// is first checked to be still open, so that one qmgr closed (a restart)
// is replaced rather than failing the message after its content.
func (srv *Server) openQueue(s *session) (*queueSubmission, error) {
	req := srv.request(s).Encode(nil)
	for c := srv.cleanup.get(); c != nil; c = srv.cleanup.get() {
		if c.Idle() && c.WriteFrame(ipc.FrameRequest, req) == nil {
			return &queueSubmission{c: c, body: c.BodyWriter(), pool: &srv.cleanup}, nil
		}
		c.Close() // qmgr closed it meanwhile: try the next, then a new one
	}
	path := daemon.ServiceSocket(srv.set.queueDir, "cleanup")
	c, err := ipc.Dial(path, cleanupTimeout)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", path, err)
	}
	if err := c.WriteFrame(ipc.FrameRequest, req); err != nil {
		c.Close()
		return nil, fmt.Errorf("send to %s: %w", path, err)
	}
	return &queueSubmission{c: c, body: c.BodyWriter(), pool: &srv.cleanup}, nil
}

// cleanupPool keeps connections to cleanup between messages, so that a
// message costs no connection set-up on either side. qmgr serves one
// submission after another on a connection.
type cleanupPool struct {
	mu   sync.Mutex
	idle []pooledConn
}

type pooledConn struct {
	c     *ipc.Conn
	since time.Time
}

// Pool limits: how many idle connections are kept, and for how long (well
// under qmgr's idle timeout, so a kept connection is still open).
const (
	cleanupPoolSize = 64
	cleanupPoolIdle = 20 * time.Second
)

// get returns an idle connection, or nil.
func (p *cleanupPool) get() *ipc.Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(last.since) < cleanupPoolIdle {
			return last.c
		}
		last.c.Close()
	}
	return nil
}

// put keeps c for the next message, or closes it when the pool is full.
func (p *cleanupPool) put(c *ipc.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.idle) >= cleanupPoolSize {
		c.Close()
		return
	}
	p.idle = append(p.idle, pooledConn{c, time.Now()})
}

// closeAll closes the idle connections.
func (p *cleanupPool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pc := range p.idle {
		pc.c.Close()
	}
	p.idle = nil
}

// request is the cleanup request record of the session's transaction.
func (srv *Server) request(s *session) ipc.Record {
	tx := s.tx
	name, addr, helo, proto := s.origin()
	if tx.smtputf8 && s.fwd == nil {
		proto = utf8Protocol(proto)
	}
	env := envelope.Envelope{
		Sender: tx.sender, ClientName: name, ClientAddr: addr,
		Helo: helo, Protocol: proto, EnvID: tx.envid, Ret: tx.ret, VERP: tx.verp,
		SMTPUTF8: tx.smtputf8,
	}
	req := ipc.Record{{Name: "request", Value: "submit"}}
	req = append(req, env.Record()...)
	for _, rc := range tx.rcpts {
		req = req.Add("rcpt", envelope.RcptRecord(rc))
	}
	for _, h := range tx.prepend {
		req = req.Add("prepend", h)
	}
	if tx.hold {
		req = req.Add("hold", "yes")
	}
	if f := tx.filter; f != "" || srv.set.contentFilter != "" {
		if f == "" {
			f = srv.set.contentFilter
		}
		req = req.Add("filter", f)
	}
	if tx.redirect != "" {
		req = req.Add("redirect", tx.redirect)
	}
	for _, o := range srv.set.receiveOverrides {
		req = req.Add("override", o)
	}
	if s.authUser != "" {
		req = req.Add("sasl_method", s.authMech).Add("sasl_username", s.authUser)
		if srv.set.saslHeader {
			req = req.Add("sasl_header", "yes")
		}
	}
	if s.tls != nil && srv.set.tlsReceived {
		req = req.Add("tls", tlsconf.Summary(s.tls))
	}
	return req.Add("log_client", s.clientLog()).Add("log_program", srv.log.Program())
}

// Write streams content to qmgr. After a failure it swallows the rest,
// so the session can read the client's data to its end; finish reports.
func (q *queueSubmission) Write(p []byte) (int, error) {
	if q.err != nil || q.discard {
		return len(p), nil
	}
	if q.spool != nil {
		if _, err := q.spool.Write(p); err != nil {
			q.err = err
		}
		return len(p), nil
	}
	if q.proxy != nil {
		return q.proxy.Write(p)
	}
	if _, err := q.body.Write(p); err != nil {
		q.err = err
	}
	return len(p), nil
}

// abort drops the message: qmgr sees the connection end mid-body.
func (q *queueSubmission) abort() {
	if q.spool != nil {
		q.spool.Close()
	}
	if q.proxy != nil {
		q.proxy.p.close() // mid-content: the filter drops the message
	}
	if q.c != nil {
		q.c.Close()
		q.c = nil
	}
}

// finish ends the content and waits for qmgr's verdict: the queue id, or
// the reply to give the client. After a complete exchange the connection
// goes back to the pool.
func (q *queueSubmission) finish() (string, reply.Reply) {
	if q.err == nil {
		q.err = q.body.Close()
	}
	if q.err != nil {
		q.abort()
		return "", reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	r, err := q.c.Receive(ipc.FrameReply)
	if err != nil {
		q.abort()
		return "", reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	q.pool.put(q.c)
	q.c = nil
	if r.Get("status") == "ok" {
		return r.Get("id"), reply.Reply{}
	}
	return "", cleanupReply(r)
}

// cleanupReply turns cleanup's refusal into an SMTP reply: 552 for a
// message over the size limit, 554 for other permanent refusals, 451 for
// temporary ones.
func cleanupReply(r ipc.Record) reply.Reply {
	dsn, text := r.Get("dsn"), r.Get("text")
	code, _ := strconv.Atoi(r.Get("code"))
	if smtp, err := strconv.Atoi(r.Get("smtp")); err == nil && smtp >= 400 && smtp < 600 && dsn != "" {
		return reply.New(smtp, dsn, "%s", text) // a content check's own words
	}
	switch {
	case dsn == reply.StatusTooBig:
		return replyTooBig
	case strings.HasPrefix(dsn, "5") || (dsn == "" && code != 75 && code != 0):
		if dsn == "" {
			dsn = reply.StatusPerm
		}
		return reply.New(reply.CodeFailed, dsn, "Error: %s", text)
	}
	return reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: %s", text)
}

// utf8Protocol is the protocol name of a transaction with SMTPUTF8 for
// the Received header: UTF8SMTP, UTF8SMTPS, UTF8SMTPA or UTF8SMTPSA in
// place of ESMTP... (RFC 6531 section 3.7.3).
func utf8Protocol(proto string) string {
	if rest, ok := strings.CutPrefix(proto, "ESMTP"); ok {
		return "UTF8SMTP" + rest
	}
	return proto
}
