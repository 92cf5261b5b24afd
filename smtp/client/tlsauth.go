package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"slices"
	"strings"

	"github.com/tern-mta/tern/pkg/sasl"
)

// startTLS runs STARTTLS (RFC 3207) as the security level asks and says
// EHLO again afterwards.
func (s *Session) startTLS(ctx context.Context) error {
	level := s.opt.TLSLevel
	if level == "" || level == TLSNone || s.tls != nil {
		return nil
	}
	mandatory := level != TLSMay
	if !s.Has("STARTTLS") {
		if !mandatory {
			return nil
		}
		return &Error{Peer: s.peerName, Stage: StageStartTLS, Temporary: true, Status: statusTLS,
			Err: described(nil, "TLS is required, but was not offered by host %s", s.peerName)}
	}
	r, err := s.cmd(ctx, StageStartTLS, s.to.StartTLS, "STARTTLS")
	if err != nil {
		return err
	}
	if !r.Positive() {
		if !mandatory && r.Code != 421 {
			return nil // opportunistic TLS: go on in plain text
		}
		e := s.replyError(StageStartTLS, r.Reply)
		e.Temporary = true
		return e
	}
	if s.br.Buffered() > 0 {
		// Whatever a server sends after its STARTTLS reply and before the
		// handshake is plain text that an attacker may have injected.
		s.shutdown()
		return &Error{Peer: s.peerName, Stage: StageStartTLS, Temporary: true, Status: statusProtocol,
			Err: described(nil, "host %s sent data after its STARTTLS reply", s.peerName)}
	}
	tc := tls.Client(s.conn, s.tlsConfig())
	s.mu.Lock()
	s.conn = tc
	s.mu.Unlock()
	if err := s.handshake(ctx, tc); err != nil {
		return err
	}
	return s.hello(ctx)
}

// handshake completes the TLS handshake on tc and switches the session's
// reader and writer to it.
func (s *Session) handshake(ctx context.Context, tc *tls.Conn) error {
	if err := s.arm(ctx, s.to.StartTLS); err != nil {
		s.shutdown()
		return s.ioError(ctx, StageStartTLS, err)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		s.shutdown()
		e := s.ioError(ctx, StageStartTLS, err)
		if !isTimeout(err) {
			e.Err = described(err, "TLS handshake with %s failed: %v", s.peerName, err)
			e.Status = "4.7.5" // RFC 5248 registry: cryptographic failure
		}
		return e
	}
	st := tc.ConnectionState()
	s.tls = &st
	s.br = bufio.NewReader(tc)
	s.bw = bufio.NewWriter(tc)
	return nil
}

// tlsConfig returns the caller's config, or one that skips the
// certificate check for the levels that do not check it.
func (s *Session) tlsConfig() *tls.Config {
	var cfg *tls.Config
	if s.opt.TLSConfig != nil {
		cfg = s.opt.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
		if s.opt.TLSLevel == TLSMay || s.opt.TLSLevel == TLSEncrypt {
			cfg.InsecureSkipVerify = true
			cfg.MinVersion = tls.VersionTLS10 // opportunistic: anything beats plain text
		}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = s.hostName
	}
	return cfg
}

// authenticate runs AUTH (RFC 4954) with PLAIN, or LOGIN when the server
// offers only that, if the security policy allows plaintext mechanisms.
func (s *Session) authenticate(ctx context.Context) error {
	a := s.opt.Auth
	if a == nil {
		return nil
	}
	offered, ok := s.ext["AUTH"]
	if !ok {
		return nil // as Postfix: a server without AUTH gets mail unauthenticated
	}
	mech := ""
	policy := s.opt.AuthPolicy
	if s.tls != nil {
		policy = s.opt.AuthTLSPolicy
	}
	if policy.Allows(sasl.PropPlaintext) {
		for _, m := range []string{"PLAIN", "LOGIN"} {
			if filter := s.opt.AuthMechanisms; len(filter) > 0 && !slices.Contains(filter, m) {
				continue
			}
			if hasWord(offered, m) {
				mech = m
				break
			}
		}
	}
	if mech == "" {
		return &Error{Peer: s.peerName, Stage: StageAuth, Temporary: true, Status: statusAuthTemp,
			Err: described(nil, "SASL authentication failed: cannot authenticate to server %s: no mechanism available", s.peerName)}
	}
	enc := base64.StdEncoding.EncodeToString
	first := "AUTH PLAIN " + enc([]byte("\x00"+a.User+"\x00"+a.Password))
	var steps []string
	if mech == "LOGIN" {
		first = "AUTH LOGIN"
		steps = []string{enc([]byte(a.User)), enc([]byte(a.Password))}
	}
	r, err := s.cmd(ctx, StageAuth, s.to.Auth, first)
	for i := 0; err == nil && r.Code == 334; i++ {
		if i >= len(steps) {
			// RFC 4954 section 4: "*" cancels an exchange we cannot finish.
			if r, err = s.cmd(ctx, StageAuth, s.to.Auth, "*"); err == nil {
				err = &Error{Peer: s.peerName, Stage: StageAuth, Temporary: true, Status: statusAuthTemp,
					Err: described(nil, "SASL authentication failed: unexpected challenge from server %s", s.peerName)}
			}
			break
		}
		r, err = s.cmd(ctx, StageAuth, s.to.Auth, steps[i])
	}
	if err != nil {
		return err
	}
	if r.Positive() {
		return nil
	}
	e := s.replyError(StageAuth, r.Reply)
	if s.opt.AuthSoftBounce && e.Reply.Permanent() {
		e.Temporary = true
		e.Status = "4" + e.Status[1:]
	}
	return e
}

// hasWord reports whether the space-separated list holds w, ignoring case.
func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}
