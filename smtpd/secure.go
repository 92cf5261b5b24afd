package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/pkg/sasl"
	"github.com/tern-mta/tern/pkg/tlsconf"
)

// starttls serves STARTTLS (RFC 3207). Whatever the client sent after the
// command and before the handshake is discarded, never read as commands
// of the encrypted session (the STARTTLS command injection attack), and
// the session forgets all it knew from before (section 4.2).
func (s *session) starttls(ctx context.Context, arg string) reply.Reply {
	switch {
	case arg != "":
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: STARTTLS")
	case s.tls != nil:
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: TLS already active")
	case s.srv.tlsConfig == nil:
		return reply.New(reply.CodeTempAuthFailure, reply.StatusTempPolicy, "TLS not available due to local problem")
	}
	if r := s.srv.checkTLSRate(s); !r.IsZero() {
		s.closing = true
		return r
	}
	if n := s.pendingInput(); n > 0 {
		s.srv.log.Infof("improper command pipelining after STARTTLS from %s: %d bytes discarded", s.client, n)
		s.readFrom(s.conn) // drops it
	}
	s.send(reply.New(reply.CodeReady, reply.StatusOK, "Ready to start TLS"))
	if err := s.flush(); err != nil {
		s.lost(err)
		s.closing = true
		return reply.Reply{}
	}
	tc := tls.Server(s.conn, s.srv.tlsConfig)
	_ = tc.SetDeadline(deadlineFrom(s.lim.starttlsTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		s.srv.log.Warnf("TLS library problem: %v", err)
		s.srv.log.Infof("lost connection after STARTTLS from %s", s.client)
		s.closing = true
		return reply.Reply{}
	}
	st := tc.ConnectionState()
	s.conn, s.tls = tc, &st
	s.readFrom(tc)
	s.bw = bufio.NewWriterSize(tc, 4096)
	s.reset()
	s.helo, s.esmtp, s.authUser, s.authMech = "", false, "", ""
	s.tlsStarted()
	return reply.Reply{}
}

// tlsStarted takes in a new TLS session: it records the client's
// certificate (smtpd_tls_ask_ccert), logs the session as Postfix's smtpd
// does with smtpd_tls_loglevel 1 or more (Anonymous, Untrusted or
// Trusted), and, with smtpd_tls_req_ccert where TLS is mandatory, ends
// the session of a client without a trusted certificate (421 4.7.1).
func (s *session) tlsStarted() {
	if s.tls == nil {
		return
	}
	set := &s.srv.set
	if set.ccert.ask {
		s.ccert = set.ccert.clientCert(s.tls)
	}
	if set.tlsLogLevel >= 1 {
		s.srv.log.Infof("%s TLS connection established from %s: %s", certTrust(s.ccert), s.client, tlsconf.Summary(s.tls))
	}
	mandatory := set.tlsLevel == "encrypt" || set.wrapperMode
	if !set.ccert.require || !mandatory || (s.ccert != nil && s.ccert.Trusted) {
		return
	}
	why := "No client certificate presented"
	if s.ccert != nil {
		why = "Client certificate not trusted"
	}
	s.srv.log.Infof("NOQUEUE: abort: TLS from %s: %s", s.client, why)
	s.send(reply.New(reply.CodeUnavailable, reply.StatusTempRelayDenied, "%s Error: %s", set.hostname, why))
	_ = s.flush()
	s.closing = true
}

// authMechanisms are the SASL mechanisms to offer now: none unless
// smtpd_sasl_auth_enable, none before TLS with smtpd_tls_auth_only, none
// to the clients of smtpd_sasl_exceptions_networks, and
// those that smtpd_sasl_security_options (smtpd_sasl_tls_security_options
// over TLS) allow.
func (s *session) authMechanisms() []string {
	if s.srv.sasl == nil || (s.srv.set.authOnlyTLS && s.tls == nil) {
		return nil
	}
	if s.srv.exempt(s.srv.set.saslExceptions, s.client.addr) { // smtpd_sasl_exceptions_networks
		return nil
	}
	policy := s.srv.set.saslPolicy
	if s.tls != nil {
		policy = s.srv.set.saslTLSPolicy
	}
	return s.srv.set.mechFilter.filter(policy.Allowed(s.srv.mechanisms.get(s.srv, s.tls != nil)))
}

// mechanismFilter is smtpd_sasl_mechanism_filter (Postfix 3.6): mechanism
// names, each perhaps negated with "!", and tables, tried in order; the
// first that matches a mechanism decides whether it is offered, and a
// mechanism none matches is not. Postfix's default, "!external,
// static:rest", keeps EXTERNAL back (smtpd cannot hand a back end the
// client's certificate) and offers the rest. A nil filter offers all.
type mechanismFilter []mechanismItem

type mechanismItem struct {
	neg   bool
	name  string   // upper case, or
	table maps.Map // looked up with the mechanism name
}

// parseMechanismFilter reads the filter's words.
func parseMechanismFilter(words []string, opt maps.Options) (mechanismFilter, error) {
	var f mechanismFilter
	for _, w := range words {
		it := mechanismItem{}
		w, it.neg = strings.CutPrefix(w, "!")
		if strings.Contains(w, ":") {
			m, err := maps.Open(w, opt)
			if err != nil {
				return nil, fmt.Errorf("smtpd_sasl_mechanism_filter: %w", err)
			}
			it.table = m
		} else {
			it.name = strings.ToUpper(w)
		}
		f = append(f, it)
	}
	return f, nil
}

// filter returns the names the filter lets through, in order.
func (f mechanismFilter) filter(names []string) []string {
	if f == nil {
		return names
	}
	var out []string
	for _, n := range names {
		if f.allows(n) {
			out = append(out, n)
		}
	}
	return out
}

func (f mechanismFilter) allows(name string) bool {
	for _, it := range f {
		match := it.name == strings.ToUpper(name)
		if it.table != nil {
			_, found, err := it.table.Lookup(name)
			match = err == nil && found
		}
		if match {
			return !it.neg
		}
	}
	return false
}

// mechanismCache keeps the SASL back end's mechanism list for a minute:
// asking Dovecot costs a connection and a handshake, and every EHLO
// needs the list.
type mechanismCache struct {
	mu      sync.Mutex
	at      [2]time.Time
	entries [2][]sasl.Mechanism
}

const mechanismCacheTime = time.Minute

func (c *mechanismCache) get(srv *Server, secured bool) []sasl.Mechanism {
	i := 0
	if secured {
		i = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at[i].IsZero() && time.Since(c.at[i]) < mechanismCacheTime {
		return c.entries[i]
	}
	mechs, err := srv.sasl.Mechanisms(context.Background(), secured)
	if err != nil {
		srv.log.Warnf("SASL: %v", err)
		return nil
	}
	c.at[i], c.entries[i] = time.Now(), mechs
	return mechs
}

// auth serves AUTH (RFC 4954).
func (s *session) auth(ctx context.Context, arg string) reply.Reply {
	mechs := s.authMechanisms()
	switch {
	case len(mechs) == 0:
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: authentication not enabled")
	case !s.esmtp:
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: send EHLO first")
	case s.authUser != "":
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: already authenticated")
	case s.tx != nil:
		return reply.New(reply.CodeBadSequence, reply.StatusBadCommand, "Error: MAIL transaction in progress")
	}
	if r := s.srv.checkAuthRate(s); !r.IsZero() {
		return r
	}
	mech, initText, hasInit := strings.Cut(strings.TrimSpace(arg), " ")
	mech = strings.ToUpper(mech)
	if mech == "" {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: AUTH mechanism")
	}
	if !slices.ContainsFunc(mechs, func(m string) bool { return strings.EqualFold(m, mech) }) { // the back end may have more than the options allow
		return s.authFailed(mech, fmt.Errorf("%w: %s is not offered", sasl.ErrUnsupportedMech, mech))
	}
	var initial []byte
	if hasInit {
		if initText != "=" { // RFC 4954 section 4: "=" is an empty response
			var err error
			if initial, err = base64.StdEncoding.DecodeString(initText); err != nil {
				return reply.New(reply.CodeSyntaxParams, reply.StatusSyntax, "Cannot decode response")
			}
		} else {
			initial = []byte{}
		}
	}
	info := sasl.Info{Service: s.srv.set.saslService, LocalAddr: s.conn.LocalAddr().String(),
		RemoteAddr: s.conn.RemoteAddr().String(), Secured: s.tls != nil}
	ex, err := s.srv.sasl.Start(ctx, mech, initial, info)
	if err != nil {
		return s.authFailed(mech, err)
	}
	return s.authExchange(ctx, mech, ex, initial)
}

// authExchange runs the challenges and responses of one AUTH command.
func (s *session) authExchange(ctx context.Context, mech string, ex sasl.Exchange, resp []byte) reply.Reply {
	// Releases the back end's connection of an unfinished exchange.
	defer func() { _ = sasl.Abort(ex) }()
	for round := 0; round < 10; round++ {
		challenge, done, user, err := ex.Next(ctx, resp)
		if err != nil {
			return s.authFailed(mech, err)
		}
		if done {
			s.authUser, s.authMech = user, mech
			return reply.New(reply.CodeAuthOK, reply.StatusAuthOK, "Authentication successful")
		}
		s.send(reply.Reply{Code: reply.CodeAuthChallenge, Text: base64.StdEncoding.EncodeToString(challenge)})
		if err := s.flush(); err != nil {
			s.lost(err)
			s.closing = true
			return reply.Reply{}
		}
		s.deadline()
		line, tooLong, _, err := readLine(s.br, s.srv.set.saslResponseLimit)
		if err != nil {
			s.lost(err)
			s.closing = true
			return reply.Reply{}
		}
		if tooLong {
			return replySASLResponseTooLong
		}
		if line == "*" {
			return reply.New(reply.CodeSyntaxParams, reply.StatusPolicy, "Authentication aborted")
		}
		if resp, err = base64.StdEncoding.DecodeString(line); err != nil {
			return reply.New(reply.CodeSyntaxParams, reply.StatusSyntax, "Cannot decode response")
		}
	}
	return s.authFailed(mech, errors.New("too many rounds"))
}

func (s *session) authFailed(mech string, err error) reply.Reply {
	s.srv.log.Warnf("%s: SASL %s authentication failed: %v", s.client, mech, err)
	return sasl.ReplyFor(err)
}
