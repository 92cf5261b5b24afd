package smtpd

import (
	"crypto/tls"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/milters"
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
	client := milters.Client{Name: s.client.name, Helo: s.helo, Addr: s.client.addr, Port: uint16(s.client.port)}
	msg, r := milters.Filter(s.srv.milters, client, s.tx.sender, s.tx.rcpts, q.spool, s.milterMacros(), s.srv.log.Warnf)
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

// milterMacros are the Sendmail macros milters ask for: this host's name,
// the service, the client, the TLS session and SASL login.
func (s *session) milterMacros() milter.Macros {
	m := milter.NewMacroBag()
	m.Set(milter.MacroMTAFQDN, s.srv.set.hostname)
	m.Set(milter.MacroDaemonName, s.srv.set.milterDaemonName)
	m.Set("v", s.srv.set.milterVersion)
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
