package screen

import (
	"net/netip"
	"time"

	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/reply"
)

// The deep protocol tests of postscreen(8) happen after the greeting:
// a client that pipelines commands where it was not offered PIPELINING,
// sends a non-SMTP command (postscreen_forbidden_commands, by default
// smtpd_forbidden_commands) or ends a command with a bare
// newline fails. Postfix's postscreen runs them in its own SMTP engine
// and, since it cannot hand a session on halfway, answers a client that
// passes with 450 4.3.2 at RCPT: the client comes back later and is let
// through while its pass lasts. tern's smtpd runs them in the session
// itself, with the same 450, so their effect is the same.

// DeepTest names one of the deep protocol tests.
type DeepTest int

// The deep protocol tests.
const (
	Pipelining DeepTest = iota
	NonSMTPCommand
	BareNewline
	deepTests
)

// deepNames are the tests' parameter names (postscreen_<name>_enable),
// deepWords their log lines' words.
var (
	deepNames = [deepTests]string{"pipelining", "non_smtp_command", "bare_newline"}
	deepWords = [deepTests]string{"COMMAND PIPELINING", "NON-SMTP COMMAND", "BARE NEWLINE"}
)

// The replies of the deep tests.
var (
	replyProtocolEnforce = reply.New(reply.CodeMailboxUnavail, reply.StatusBadCommand, "Protocol error")
	replyProtocolDrop    = reply.New(reply.CodeNoMail, reply.StatusBadCommand, "Protocol error")
	replyComeBackLater   = reply.New(reply.CodeMailboxBusy, "4.3.2", "Service currently unavailable")
)

// Deep is a session in which a client takes the deep protocol tests. Its
// methods are called by the session's goroutine only.
type Deep struct {
	sc     *Screen
	who    string
	addr   netip.Addr
	start  time.Time
	failed bool // a test failed: no pass this time
	asked  bool // RCPT got the 450: the client may come back
}

// deep returns the tests c is due for in its session, nil for none: the
// enabled ones, unless c passed them lately.
func (sc *Screen) deep(c Client, cached passes, now time.Time) *Deep {
	if !sc.deepEnabled() || now.Before(cached.deep) {
		return nil
	}
	return &Deep{sc: sc, who: c.who(), addr: c.Addr.Addr().Unmap(), start: now}
}

func (sc *Screen) deepEnabled() bool {
	for _, d := range sc.set.Deep {
		if d.enable {
			return true
		}
	}
	return false
}

// Tests reports whether test t runs in this session.
func (d *Deep) Tests(t DeepTest) bool { return d != nil && d.sc.set.Deep[t].enable }

// Fail records that the client failed test t after command after, with
// what it sent (for the log). It returns the test's action: a reply for
// every RCPT (enforce), or one to send before closing the connection
// (drop, with drop set); neither when the failure is ignored.
func (d *Deep) Fail(t DeepTest, after string, sent []byte) (enforce reply.Reply, dropReply reply.Reply, drop bool) {
	if !d.Tests(t) {
		return reply.Reply{}, reply.Reply{}, false
	}
	d.failed = true
	if len(sent) > 0 {
		d.sc.log.Infof("%s from %s after %s: %.100s", deepWords[t], d.who, after, maillog.Escape(sent))
	} else {
		d.sc.log.Infof("%s from %s after %s", deepWords[t], d.who, after)
	}
	switch d.sc.set.Deep[t].action {
	case Enforce:
		return replyProtocolEnforce, reply.Reply{}, false
	case Drop:
		return reply.Reply{}, replyProtocolDrop, true
	}
	return reply.Reply{}, reply.Reply{}, false
}

// Rcpt is the reply to a RCPT of a client under test that has not failed:
// 450 4.3.2, as postscreen gives it, so that the client comes back.
func (d *Deep) Rcpt() reply.Reply {
	if d == nil || d.failed {
		return reply.Reply{}
	}
	d.asked = true
	return replyComeBackLater
}

// End concludes the session: a client that got to RCPT without failing
// passes, until the earliest of its tests' ttls.
func (d *Deep) End() {
	if d == nil || d.failed || !d.asked {
		return
	}
	var ttl time.Duration
	for _, s := range d.sc.set.Deep {
		if s.enable && (ttl == 0 || s.ttl < ttl) {
			ttl = s.ttl
		}
	}
	if !d.sc.set.NoCache {
		d.sc.cache.put(d.addr, passes{deep: d.start.Add(ttl)}, d.start)
	}
	d.sc.log.Infof("PASS NEW %s", d.who)
}
