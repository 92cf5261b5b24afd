package milters

import (
	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/reply"
)

// Conversation is one SMTP session's talk with the milters of
// smtpd_milters, stage by stage as the client's commands come, as
// Postfix's smtpd holds it: the connection and HELO when they happen,
// MAIL and each RCPT before smtpd answers them (so that a milter refuses
// a recipient at RCPT, as milter-greylist does), and the header and body
// at the end of the message. Each milter has its own session; a milter
// that accepts the connection or the message is asked nothing more about
// it. A Conversation is used by one SMTP session at a time.
type Conversation struct {
	milters []*liveMilter
	client  Client
	warn    func(format string, args ...any)
	// sticky is the reply every later MAIL, RCPT and DATA gets: a milter
	// refused the connection or HELO, or failed with default_action
	// reject or tempfail.
	sticky reply.Reply
	// discardAll: a milter discarded the connection; every message is
	// accepted and dropped.
	discardAll bool
}

// liveMilter is one milter's session within a Conversation.
type liveMilter struct {
	conf *Conf
	cs   *milter.ClientSession // nil once done with (failed, or accepted the connection)
	helo bool                  // HELO was sent
	inTx bool                  // MAIL was sent and no end of message or abort since
	skip bool                  // accepted the message: nothing more about it
	hold bool                  // failed with default_action quarantine
}

// Start opens a session with each milter of list and tells it about the
// client. macros is read at each stage: the caller keeps it current
// ({mail_addr} at MAIL, {rcpt_addr} at RCPT). A rejection of the
// connection is given to MAIL, RCPT and DATA, as Postfix does.
func Start(list []*Conf, c Client, macros milter.Macros, warn func(format string, args ...any)) *Conversation {
	conv := &Conversation{client: c, warn: warn}
	family := milter.FamilyInet
	if c.Addr.Is6() && !c.Addr.Is4In6() {
		family = milter.FamilyInet6
	}
	for _, m := range list {
		lm := &liveMilter{conf: m}
		conv.milters = append(conv.milters, lm)
		cs, err := m.client.Session(m.withDefaults(macros))
		if err != nil {
			conv.failed(lm, err)
			continue
		}
		lm.cs = cs
		act, err := cs.Conn(c.Name, family, c.Port, c.Addr.Unmap().String())
		if r, discard := conv.outcome(lm, act, err); !r.IsZero() {
			conv.stick(r)
		} else if discard {
			conv.discardAll = true
		}
	}
	return conv
}

// Helo tells the milters the client's HELO or EHLO name; a reply when one
// refuses it.
func (conv *Conversation) Helo(name string) reply.Reply {
	conv.client.Helo = name
	for _, lm := range conv.milters {
		if lm.cs == nil || lm.inTx {
			continue
		}
		act, err := lm.cs.Helo(name)
		lm.helo = err == nil
		r, discard := conv.outcome(lm, act, err)
		if discard {
			conv.discardAll = true
		}
		if !r.IsZero() {
			return r
		}
	}
	return reply.Reply{}
}

// Mail tells the milters the sender ("" for <>) with the client's ESMTP
// parameters; a reply when one refuses it, discard when one discards the
// message.
func (conv *Conversation) Mail(sender, args string) (r reply.Reply, discard bool) {
	if !conv.sticky.IsZero() {
		return conv.sticky, false
	}
	for _, lm := range conv.milters {
		if lm.cs == nil {
			continue
		}
		if !lm.helo {
			// No HELO came (smtpd_helo_required = no): the milter
			// protocol wants one before MAIL.
			if act, err := lm.cs.Helo(conv.client.Helo); err != nil || act.Type != milter.ActionContinue {
				if r, d := conv.outcome(lm, act, err); !r.IsZero() || d {
					return r, d
				}
				continue
			}
			lm.helo = true
		}
		act, err := lm.cs.Mail("<"+sender+">", args)
		lm.inTx = err == nil
		if r, d := conv.outcome(lm, act, err); !r.IsZero() {
			conv.EndTransaction() // no transaction: the milters that saw MAIL start over
			return r, false
		} else if d {
			discard = true
		}
	}
	return conv.sticky, discard || conv.discardAll
}

// Rcpt tells the milters a recipient smtpd accepted; a reply when one
// refuses it, discard when one discards the message.
func (conv *Conversation) Rcpt(rcpt, args string) (r reply.Reply, discard bool) {
	if !conv.sticky.IsZero() {
		return conv.sticky, false
	}
	for _, lm := range conv.milters {
		if lm.cs == nil || lm.skip || !lm.inTx {
			continue
		}
		act, err := lm.cs.Rcpt("<"+rcpt+">", args)
		if r, d := conv.outcome(lm, act, err); !r.IsZero() {
			return r, false
		} else if d {
			discard = true
		}
	}
	return conv.sticky, discard
}

// Content shows msg's header and body to the milters still asking, each
// seeing the changes of those before it, and applies their answers to
// msg; the reply is a rejection. The transaction is over afterwards.
func (conv *Conversation) Content(msg *Message) reply.Reply {
	defer conv.EndTransaction()
	if !conv.sticky.IsZero() {
		return conv.sticky
	}
	for _, lm := range conv.milters {
		if lm.hold {
			msg.Hold = true
		}
		if lm.cs == nil || lm.skip || !lm.inTx {
			continue
		}
		lm.inTx = false // End or the reset in content leaves the session before MAIL
		r, err := lm.conf.content(lm.cs, msg)
		if err != nil {
			conv.failed(lm, err)
			if r = conv.sticky; !r.IsZero() {
				return r
			}
			if lm.hold {
				msg.Hold = true
			}
			continue
		}
		if !r.IsZero() || msg.Discard {
			return r
		}
	}
	return reply.Reply{}
}

// EndTransaction tells the milters in a transaction that it ended without
// a message (RSET, a refused MAIL, a lost client), so that the next MAIL
// starts afresh.
func (conv *Conversation) EndTransaction() {
	for _, lm := range conv.milters {
		lm.skip = false
		if lm.cs == nil || !lm.inTx {
			continue
		}
		lm.inTx = false
		if err := lm.cs.Abort(nil); err != nil {
			conv.failed(lm, err)
		}
	}
}

// Close ends every milter session.
func (conv *Conversation) Close() {
	for _, lm := range conv.milters {
		if lm.cs != nil {
			_ = lm.cs.Close()
			lm.cs = nil
		}
	}
}

// outcome reads a milter's answer to an envelope stage: a rejection, or
// discard; an accept makes it skip the rest of the message (of the
// connection, before MAIL); a failure applies milter_default_action.
func (conv *Conversation) outcome(lm *liveMilter, act *milter.Action, err error) (reply.Reply, bool) {
	if err != nil {
		conv.failed(lm, err)
		return conv.sticky, false
	}
	switch act.Type {
	case milter.ActionAccept:
		if lm.inTx {
			lm.skip = true
		} else {
			_ = lm.cs.Close()
			lm.cs = nil
		}
	case milter.ActionDiscard:
		return reply.Reply{}, true
	case milter.ActionReject:
		return ReplyReject, false
	case milter.ActionTempFail:
		return ReplyTempfail, false
	case milter.ActionRejectWithCode:
		return milterReply(act), false
	}
	return reply.Reply{}, false
}

// failed gives up on a milter that could not be asked, applying its
// milter_default_action: accept goes on without it, reject and tempfail
// refuse every later MAIL, RCPT and DATA of the session, quarantine holds
// its messages.
func (conv *Conversation) failed(lm *liveMilter, err error) {
	conv.warn("milter %s: %v", lm.conf.name, err)
	if lm.cs != nil {
		_ = lm.cs.Close()
		lm.cs = nil
	}
	lm.inTx = false
	msg := &Message{}
	if r := lm.conf.failure(msg); !r.IsZero() {
		conv.stick(r)
	}
	lm.hold = msg.Hold
}

// stick makes r the reply of every later command; the first one stays.
func (conv *Conversation) stick(r reply.Reply) {
	if conv.sticky.IsZero() {
		conv.sticky = r
	}
}
