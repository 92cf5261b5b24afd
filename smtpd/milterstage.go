package smtpd

import (
	"crypto/tls"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/pkg/tlsconf"
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
	msg, r := s.runMilters(q.spool)
	switch {
	case !r.IsZero():
		s.logWhatsup("milter-reject", restrict.EndOfData, "", r.String())
		return nil, r
	case msg.discard:
		s.logWhatsup("milter-discard", restrict.EndOfData, "", "milter triggers DISCARD action")
		return nil, replyDiscarded
	case len(msg.rcpts) == 0:
		s.logWhatsup("milter-reject", restrict.EndOfData, "", "milters removed every recipient")
		return nil, reply.New(reply.CodeFailed, "5.7.1", "Error: no recipients left")
	}
	if msg.hold && !s.tx.hold {
		s.tx.hold = true
		s.logWhatsup("milter-hold", restrict.EndOfData, "", "milter triggers HOLD action")
	}
	s.tx.sender, s.tx.rcpts = msg.sender, msg.rcpts
	out, err := s.srv.openQueue(s)
	if err != nil {
		s.srv.log.Warnf("%s: queue submission: %v", s.client, err)
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	if err := msg.writeTo(out); err != nil {
		out.abort()
		s.srv.log.Warnf("%s: %v", s.client, err)
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	return out, reply.Reply{}
}

// runMilters shows the message to each milter in turn, each seeing the
// changes of those before it. A milter that fails gets its default
// action.
func (s *session) runMilters(sp *spool) (*milterMessage, reply.Reply) {
	header, offset, err := parseHeader(sp.Reader(0))
	if err != nil {
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	msg := &milterMessage{sender: s.tx.sender, rcpts: s.tx.rcpts, header: header, spool: sp, offset: offset}
	client := milterClient{name: s.client.name, helo: s.helo, addr: s.client.addr, port: uint16(s.client.port)}
	for _, m := range s.srv.milters {
		r, err := m.run(client, msg, s.milterMacros())
		if err != nil {
			s.srv.log.Warnf("milter %s: %v", m.name, err)
			if r = m.failure(msg); !r.IsZero() {
				return msg, r
			}
			continue
		}
		if !r.IsZero() || msg.discard {
			return msg, r
		}
	}
	return msg, reply.Reply{}
}

// failure applies milter_default_action to a milter that could not be
// asked: accept goes on without it.
func (m *milterConf) failure(msg *milterMessage) reply.Reply {
	switch m.defaultAction {
	case "reject":
		return replyMilterReject
	case "quarantine":
		msg.hold = true
		return reply.Reply{}
	case "accept":
		return reply.Reply{}
	}
	return replyMilterTempfail
}

// milterMacros are the Sendmail macros milters ask for: this host's name,
// the service, the client, the TLS session and SASL login.
func (s *session) milterMacros() milter.Macros {
	m := milter.NewMacroBag()
	m.Set(milter.MacroMTAFQDN, s.srv.set.hostname)
	m.Set(milter.MacroDaemonName, "tern")
	m.Set("v", "tern")
	if s.authUser != "" {
		m.Set(milter.MacroAuthAuthen, s.authUser)
		m.Set(milter.MacroAuthType, s.authMech)
	}
	if s.tls != nil {
		m.Set(milter.MacroTlsVersion, tlsconf.Name(s.tls.Version))
		m.Set(milter.MacroCipher, tls.CipherSuiteName(s.tls.CipherSuite))
	}
	m.Set(milter.MacroMailAddr, s.tx.sender)
	return m
}
