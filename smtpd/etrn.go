package smtpd

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// ETRN (RFC 1985), as Postfix's smtpd serves it: a client asks that the
// mail waiting for a domain of fast_flush_domains be sent now; tern's
// queue manager makes that domain's deferred mail (and its subdomains')
// due, as postqueue -s does. smtpd_etrn_restrictions (with
// check_etrn_access) decide who may ask.

// etrnTimeout bounds the request to the queue manager.
const etrnTimeout = 10 * time.Second

// etrn handles ETRN domain.
func (s *session) etrn(ctx context.Context, arg string) reply.Reply {
	arg = strings.TrimSpace(arg)
	switch {
	case s.helo == "":
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: send HELO/EHLO first")
	case s.tx != nil:
		return replyInTransaction
	case arg == "":
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: ETRN domain")
	case strings.HasPrefix(arg, "#"):
		// RFC 1985 queue names: Postfix has none either.
		return reply.New(458, "4.7.1", "Unable to queue messages for %s", arg)
	}
	domain := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(arg, "@"), "."))
	if !restrict.ValidHostname(domain) {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Error: invalid parameter syntax")
	}
	if s.policy != nil {
		res := s.policy.Check(ctx, restrict.Etrn, restrict.Facts{EtrnDomain: domain, ClientAddr: s.client.addr,
			ClientName: s.client.name, ClientPort: s.client.port, Helo: s.helo, SASLUser: s.authUser, TLS: s.tls != nil})
		if !res.Reply.IsZero() && !res.Reply.Positive() {
			s.logWhatsup("reject", restrict.Etrn, "", res.Reply.String())
			return res.Reply
		}
	}
	ok, err := s.srv.set.fastFlush.Match(domain)
	if err != nil {
		s.srv.log.Warnf("fast_flush_domains: %v", err)
		return reply.New(reply.CodeLocalError, reply.StatusTempSystem, "<%s>: service unavailable", domain)
	}
	if !ok {
		return reply.New(459, "4.7.1", "<%s>: service unavailable", domain)
	}
	if err := s.srv.flushSite(domain); err != nil {
		s.srv.log.Warnf("ETRN %s: %v", domain, err)
		return reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: flush service unavailable")
	}
	return reply.New(reply.CodeOK, reply.StatusOK, "Queuing started")
}

// flushSite asks the queue manager to send the deferred mail of domain
// and its subdomains now.
func (srv *Server) flushSite(domain string) error {
	c, err := ipc.Dial(filepath.Join(srv.set.queueDir, "public", "qmgr"), etrnTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	r, err := c.Call(ipc.Record{{Name: "request", Value: "flush"}, {Name: "site", Value: domain}})
	if err != nil {
		return err
	}
	if r.Get("status") != "ok" {
		return errFlushRefused(r.Get("text"))
	}
	return nil
}

// errFlushRefused is the queue manager's refusal of a flush.
type errFlushRefused string

func (e errFlushRefused) Error() string { return "flush refused: " + string(e) }
