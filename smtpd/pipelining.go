package smtpd

import (
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/screen"
)

// Command pipelining (RFC 2920): after EHLO offered PIPELINING a client
// may send several commands before the replies, but a command that ends a
// group must wait for its reply, and without PIPELINING every command
// must. A client that sends ahead anyway is a spam engine or an attempt
// to smuggle commands past a check; as Postfix 3.9 does by default
// (smtpd_forbid_unauth_pipelining), smtpd then replies 554 5.5.0 and
// ends the session, and it always logs it and lets
// reject_unauth_pipelining refuse the mail.

// lastInGroup are the commands that can only end a group (RFC 2920
// section 3.1). QUIT is one too, but what follows it does not matter;
// STARTTLS has its own rule (starttls drops what was sent ahead).
var lastInGroup = map[string]bool{"HELO": true, "EHLO": true, "DATA": true, "NOOP": true, "VRFY": true, "EXPN": true}

// unauthPipelining reports whether the client sent more after the
// command verb than it may before the reply.
func (s *session) unauthPipelining(verb string) bool {
	if s.br.Buffered() == 0 {
		return false
	}
	switch verb {
	case "BDAT", "STARTTLS", "QUIT":
		return false // BDAT's chunk follows it
	}
	return lastInGroup[verb] || !s.pipeliningOK
}

// pipeliningViolation logs input sent ahead of time after verb, as
// Postfix does ("improper command pipelining after DATA from ...: ..."),
// and reports whether the session ends for it.
func (s *session) pipeliningViolation(verb string) bool {
	s.pipelined = true
	ahead, _ := s.br.Peek(min(s.br.Buffered(), 100))
	if s.deepFail(screen.Pipelining, ahead) {
		return true
	}
	s.srv.log.Infof("improper command pipelining after %s from %s: %s", verb, s.client, maillog.Escape(ahead))
	if !s.srv.set.forbidUnauthPipelining {
		return false
	}
	s.send(reply.New(reply.CodeFailed, "5.5.0", "Error: SMTP protocol synchronization"))
	s.closing = true
	return true
}

// deepFail reports a failed postscreen deep protocol test (when the
// session runs it) after the last command, with what the client sent:
// under enforce every RCPT gets the test's reply; under drop the reply is
// sent and deepFail returns true, the session ending.
func (s *session) deepFail(t screen.DeepTest, sent []byte) bool {
	after := s.last
	if after == "" {
		after = "CONNECT"
	}
	enforce, dropReply, drop := s.deep.Fail(t, after, sent)
	if !enforce.IsZero() && s.screenReject.IsZero() {
		s.screenReject = enforce
	}
	if drop {
		s.send(dropReply)
		s.closing = true
	}
	return drop
}
