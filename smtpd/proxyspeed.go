package smtpd

import (
	"context"
	"io"

	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// smtpd_proxy_options = speed_adjust (Postfix 2.10): smtpd answers MAIL
// and RCPT itself, keeps the message until it is all in, and only then
// connects to the before-queue filter and replays the transaction, so
// that a slow client holds no filter process. As Postfix warns, the
// filter must then accept or refuse all recipients alike: a refusal of
// any recipient refuses the whole message (nothing is passed on with
// fewer recipients than the client was told), with the filter's reply.

// proxyReplay hands the spooled message of q to the filter: MAIL, the
// recipients, DATA and the content, and returns the filter's reply to it.
func (s *session) proxyReplay(ctx context.Context, q *queueSubmission) reply.Reply {
	defer q.spool.Close()
	if q.err != nil {
		return replyProxyError
	}
	p, r := s.openProxy(ctx, s.tx.proxyMail)
	if !r.IsZero() {
		s.logWhatsup("proxy-reject", restrict.EndOfData, "", r.String())
		return r
	}
	s.tx.proxy = p // closed with the transaction
	for i, rc := range s.tx.proxyRcpts {
		r, err := p.cmd(rc)
		if err != nil {
			s.srv.log.Warnf("proxy filter %s: %v", p.where, err)
			return replyProxyError
		}
		if !r.Positive() {
			s.logWhatsup("proxy-reject", restrict.EndOfData, s.tx.rcpts[i].Address, r.String())
			return r
		}
	}
	pw, r := s.proxyContent()
	if !r.IsZero() {
		return r
	}
	pw.crlf = true // the spool's lines end in CRLF
	if _, err := io.Copy(pw, q.spool.Reader(0)); err != nil {
		s.srv.log.Warnf("proxy filter %s: read spooled message: %v", p.where, err)
		return replyProxyError
	}
	return s.proxyEnd(pw)
}
