package smtpd

import (
	"strings"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// filtered runs the milters over a spooled message and, unless they
// reject or discard it, sends what they leave of it to qmgr. It returns
// the submission to finish, or the reply to give instead.
func (s *session) filtered(q *queueSubmission) (*queueSubmission, reply.Reply) {
	defer q.spool.Close()
	if q.err != nil {
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	msg, err := milters.NewMessage(s.tx.sender, s.tx.rcpts, q.spool)
	if err != nil {
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	s.refreshMacros()
	r := s.milt.Content(msg)
	if r.IsZero() {
		for _, a := range s.srv.milterChecks.Check(msg, s.srv.log.Warnf) {
			s.logWhatsup(a.Action, restrict.EndOfData, "", strings.TrimSuffix("header "+a.Header+": "+a.Text, ": "))
		}
	}
	switch {
	case !r.IsZero():
		s.logWhatsup("milter-reject", restrict.EndOfData, "", r.String())
		return nil, r
	case msg.Discard:
		s.logWhatsup("milter-discard", restrict.EndOfData, "", "milter triggers DISCARD action")
		return nil, replyDiscarded
	case len(msg.Rcpts) == 0:
		s.logWhatsup("milter-reject", restrict.EndOfData, "", "milters removed every recipient")
		return nil, reply.New(reply.CodeFailed, "5.7.1", "Error: no recipients left")
	}
	if msg.Hold && !s.tx.hold {
		s.tx.hold = true
		s.logWhatsup("milter-hold", restrict.EndOfData, "", "milter triggers HOLD action")
	}
	if msg.Filter != "" {
		s.tx.filter = msg.Filter
	}
	if msg.Redirect != "" {
		s.tx.redirect = msg.Redirect
	}
	s.tx.sender, s.tx.rcpts = msg.Sender, msg.Rcpts
	out, err := s.srv.openQueue(s)
	if err != nil {
		s.srv.log.Warnf("%s: queue submission: %v", s.client, err)
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	if err := msg.Write(out); err != nil {
		out.abort()
		s.srv.log.Warnf("%s: %v", s.client, err)
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	return out, reply.Reply{}
}

// startMilters starts the session's conversation with smtpd_milters (or
// the client's smtpd_milter_maps list): the connection stage. A milter's refusal of the connection is the reply to
// every later MAIL, RCPT and DATA.
func (s *session) startMilters() {
	list := s.srv.miltersFor(s.client.addr)
	if len(list) == 0 {
		return
	}
	s.macros = milter.NewMacroBag()
	s.refreshMacros()
	c := milters.Client{Name: s.client.name, Addr: s.client.addr, Port: uint16(s.client.port)}
	s.milt = milters.Start(list, c, s.macros, s.srv.log.Warnf)
}

// milterHelo is the HELO stage: the milters' refusal of the name, if any.
func (s *session) milterHelo(name string) reply.Reply {
	if s.milt == nil {
		return reply.Reply{}
	}
	s.refreshMacros()
	r := s.milt.Helo(name)
	if !r.IsZero() {
		s.logWhatsup("milter-reject", restrict.Helo, "", r.String())
	}
	return r
}

// milterMail is the MAIL stage of the transaction s.tx: a refusal, or a
// discard, which applies to the transaction.
func (s *session) milterMail(params []param) reply.Reply {
	if s.milt == nil {
		return reply.Reply{}
	}
	s.refreshMacros()
	r, discard := s.milt.Mail(s.tx.sender, esmtpArgs(params))
	return s.milterVerdict(restrict.Mail, "", r, discard)
}

// milterRcpt is the RCPT stage for recipient addr.
func (s *session) milterRcpt(addr string, params []param) reply.Reply {
	if s.milt == nil {
		return reply.Reply{}
	}
	s.refreshMacros()
	s.macros.Set(milter.MacroRcptAddr, addr)
	_, domain := splitAddress(addr)
	s.macros.Set(milter.MacroRcptHost, domain)
	r, discard := s.milt.Rcpt(addr, esmtpArgs(params))
	return s.milterVerdict(restrict.Rcpt, addr, r, discard)
}

// milterVerdict logs and applies a milter stage's outcome, as Postfix
// logs them ("NOQUEUE: milter-reject: RCPT from ...").
func (s *session) milterVerdict(stage restrict.Stage, rcpt string, r reply.Reply, discard bool) reply.Reply {
	if !r.IsZero() {
		s.logWhatsup("milter-reject", stage, rcpt, r.String())
		return r
	}
	if discard && !s.tx.discard {
		s.tx.discard = true
		s.logWhatsup("milter-discard", stage, rcpt, "milter triggers DISCARD action")
	}
	return reply.Reply{}
}

// esmtpArgs writes ESMTP parameters back as the client gave them.
func esmtpArgs(params []param) string {
	words := make([]string, 0, len(params))
	for _, p := range params {
		w := p.key
		if p.has {
			w += "=" + p.value
		}
		words = append(words, w)
	}
	return strings.Join(words, " ")
}
