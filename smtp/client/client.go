// Package client is the protocol side of tern's SMTP and LMTP delivery
// agents, with the semantics of Postfix 3.7 smtp(8) and lmtp(8): on a
// connection someone else has dialled, it reads the greeting, says
// EHLO/LHLO (HELO as fallback), starts TLS and authenticates as the
// options ask, and runs mail transactions, pipelined when the server
// offers PIPELINING (RFC 5321, RFC 2033, RFC 3207, RFC 4954, RFC 1870,
// RFC 6152, RFC 6531, RFC 3461, RFC 2920).
package client

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/sasl"
)

// TLSLevel is Postfix's smtp_tls_security_level.
type TLSLevel string

// The TLS levels the client knows.
const (
	TLSNone    TLSLevel = "none"    // never STARTTLS
	TLSMay     TLSLevel = "may"     // STARTTLS when offered, no certificate check
	TLSEncrypt TLSLevel = "encrypt" // STARTTLS required, no certificate check
	TLSVerify  TLSLevel = "verify"  // STARTTLS required, certificate checked by TLSConfig
	TLSSecure  TLSLevel = "secure"  // as verify; the caller's TLSConfig names what to match
	// TLSDane and TLSFingerprint require TLS and a TLSConfig from the
	// caller that checks the certificate: against DNSSEC-validated TLSA
	// records (RFC 7672), or against configured fingerprints.
	TLSDane        TLSLevel = "dane"
	TLSFingerprint TLSLevel = "fingerprint"
)

// Auth holds SASL credentials for AUTH PLAIN or LOGIN (RFC 4954).
type Auth struct {
	User     string
	Password string
}

// Timeouts are the time limits per stage; zero fields take Postfix's
// defaults (see DefaultTimeouts).
type Timeouts struct {
	Greeting time.Duration // initial greeting (smtp_helo_timeout)
	Helo     time.Duration // EHLO/LHLO/HELO reply (smtp_helo_timeout)
	StartTLS time.Duration // STARTTLS reply and handshake (smtp_starttls_timeout)
	Auth     time.Duration // each AUTH step (no Postfix parameter; as smtp_helo_timeout)
	Mail     time.Duration // MAIL FROM reply (smtp_mail_timeout)
	Rcpt     time.Duration // each RCPT TO reply (smtp_rcpt_timeout)
	Data     time.Duration // the 354 reply to DATA (smtp_data_init_timeout)
	Body     time.Duration // each write of message content (smtp_data_xfer_timeout)
	DataDone time.Duration // reply after the final dot (smtp_data_done_timeout)
	Rset     time.Duration // RSET reply (smtp_rset_timeout)
	Quit     time.Duration // QUIT reply (smtp_quit_timeout)
}

// DefaultTimeouts are Postfix 3.7's defaults for smtp_*_timeout (and the
// identical lmtp_*_timeout).
var DefaultTimeouts = Timeouts{
	Greeting: 300 * time.Second,
	Helo:     300 * time.Second,
	StartTLS: 300 * time.Second,
	Auth:     300 * time.Second,
	Mail:     300 * time.Second,
	Rcpt:     300 * time.Second,
	Data:     120 * time.Second,
	Body:     180 * time.Second,
	DataDone: 600 * time.Second,
	Rset:     20 * time.Second,
	Quit:     300 * time.Second,
}

// withDefaults fills zero fields from DefaultTimeouts.
func (t Timeouts) withDefaults() Timeouts {
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	d := DefaultTimeouts
	return Timeouts{
		Greeting: pick(t.Greeting, d.Greeting), Helo: pick(t.Helo, d.Helo),
		StartTLS: pick(t.StartTLS, d.StartTLS), Auth: pick(t.Auth, d.Auth),
		Mail: pick(t.Mail, d.Mail), Rcpt: pick(t.Rcpt, d.Rcpt), Data: pick(t.Data, d.Data),
		Body: pick(t.Body, d.Body), DataDone: pick(t.DataDone, d.DataDone),
		Rset: pick(t.Rset, d.Rset), Quit: pick(t.Quit, d.Quit),
	}
}

// Options configure a session.
type Options struct {
	Helo string // name for EHLO/LHLO/HELO; "" means the system's host name
	LMTP bool   // speak LMTP (RFC 2033): LHLO, one reply per accepted recipient
	// HeloUnlessESMTP sends HELO instead of EHLO when the greeting does
	// not contain "ESMTP" (Postfix's smtp_always_send_ehlo = no).
	HeloUnlessESMTP bool
	// NeverEHLO sends HELO, never EHLO (smtp_never_send_ehlo): the
	// session then has no extensions.
	NeverEHLO bool
	// SkipQuitResponse sends QUIT without waiting for its reply
	// (smtp_skip_quit_response).
	SkipQuitResponse bool
	// Trace, when set, gets each command sent (dir '>') and each reply
	// line received (dir '<'), not the message content, and AUTH
	// responses starred out: debug_peer_list's conversation log.
	Trace func(dir byte, line string)
	// DiscardEHLO are EHLO keywords (upper case) to ignore in the server's
	// reply, as if it had not announced them (smtp_discard_ehlo_keywords).
	DiscardEHLO map[string]bool
	// TLSLevel is Postfix's smtp_tls_security_level; "" means none.
	TLSLevel TLSLevel
	// TLSConfig is used as given (cloned) when set; ServerName defaults to
	// the peer's host name. nil means a default config that skips the
	// certificate check for may and encrypt.
	TLSConfig *tls.Config
	// Auth, when set, authenticates with PLAIN (or LOGIN if only that is
	// offered) where AuthPolicy (without TLS) or AuthTLSPolicy (with TLS)
	// allows plaintext mechanisms: Postfix's smtp_sasl_security_options
	// and smtp_sasl_tls_security_options. The zero Policy allows them. A
	// server that offers no AUTH is used without authentication, as
	// Postfix does.
	Auth          *Auth
	AuthPolicy    sasl.Policy
	AuthTLSPolicy sasl.Policy
	// AuthMechanisms, when set, are the only mechanisms (upper case) the
	// client may use: Postfix's smtp_sasl_mechanism_filter.
	AuthMechanisms []string
	// AuthSoftBounce makes a 5xx AUTH reply a temporary failure, as
	// Postfix's smtp_sasl_auth_soft_bounce (default yes there).
	AuthSoftBounce bool
	// NoDowngrade sends 8-bit content as it is to a server that does not
	// announce 8BITMIME, instead of converting it to quoted-printable:
	// Postfix's disable_mime_output_conversion.
	NoDowngrade bool
	// PerRequestDeadline (smtp_per_request_deadline) gives the content
	// of a message one deadline, Timeouts.Body from its start, which each
	// N bytes written move N/MinDataRate seconds later, never beyond
	// Timeouts.Body from then; otherwise Timeouts.Body applies to each
	// write. MinDataRate is in bytes per second (smtp_min_data_rate).
	PerRequestDeadline bool
	MinDataRate        int64
	// LineLengthLimit is smtp_line_length_limit: longer content lines are
	// broken with CRLF SPACE. 0 means 998; negative means no limit.
	LineLengthLimit int
	Timeouts        Timeouts
}

// Session is one SMTP or LMTP session on a connection. It is not safe for
// concurrent use.
type Session struct {
	opt      Options
	to       Timeouts
	peerName string // "host[addr]" for messages
	hostName string // "host" for TLS

	mu     sync.Mutex // orders deadline changes against cancellation
	conn   net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	ext    map[string]string
	tls    *tls.ConnectionState
	broken bool // connection closed or unusable
	// bodyR and bodyW carry message content; see contentBuffers.
	bodyR *bufio.Reader
	bodyW *bufio.Writer
	// opened is when Open started; sends counts the transactions begun,
	// for the connection reuse limits.
	opened time.Time
	sends  int
}

// Age is the time since the session was opened.
func (s *Session) Age() time.Duration { return time.Since(s.opened) }

// Transactions is the number of messages the session has been given.
func (s *Session) Transactions() int { return s.sends }

// Open reads the greeting, says EHLO (LHLO for LMTP; HELO after a 5xx
// EHLO reply, not for LMTP), starts TLS as the level asks, says EHLO
// again after TLS, and authenticates when opt.Auth is set. peer names the
// server in messages ("mx.example.com[192.0.2.1]:25"). On failure the
// connection is closed and the error is an *Error.
func Open(ctx context.Context, conn net.Conn, peer string, opt Options) (*Session, error) {
	s := &Session{opt: opt, to: opt.Timeouts.withDefaults(), conn: conn, opened: time.Now()}
	s.peerName, s.hostName = splitPeer(peer)
	s.br = bufio.NewReader(conn)
	s.bw = bufio.NewWriter(conn)
	switch opt.TLSLevel {
	case "", TLSNone, TLSMay, TLSEncrypt, TLSVerify, TLSSecure:
	case TLSDane, TLSFingerprint:
		if opt.TLSConfig != nil {
			break
		}
		conn.Close()
		return nil, &Error{Peer: s.peerName, Stage: StageStartTLS, Temporary: true, Status: statusTLS,
			Err: fmt.Errorf("TLS security level %q without a certificate check", opt.TLSLevel)}
	default:
		conn.Close()
		return nil, &Error{Peer: s.peerName, Stage: StageStartTLS, Temporary: true, Status: statusTLS,
			Err: fmt.Errorf("unsupported TLS security level %q", opt.TLSLevel)}
	}
	stop := s.watch(ctx)
	defer stop()
	if err := s.open(ctx); err != nil {
		s.quit(ctx) // unless the connection is already gone
		s.shutdown()
		return nil, err
	}
	return s, nil
}

// splitPeer turns "host[addr]:port" into "host[addr]" and "host".
func splitPeer(peer string) (name, host string) {
	name = peer
	if i := strings.LastIndexByte(peer, ']'); i >= 0 {
		name = peer[:i+1]
	} else if h, _, err := net.SplitHostPort(peer); err == nil {
		name = h
	}
	host = name
	if i := strings.IndexByte(name, '['); i >= 0 {
		host = name[:i]
	}
	return name, host
}

func (s *Session) open(ctx context.Context) error {
	if tc, ok := s.conn.(*tls.Conn); ok { // smtp_tls_wrappermode: TLS from the start
		if err := s.handshake(ctx, tc); err != nil {
			return err
		}
	}
	r, err := s.read(ctx, StageGreeting, s.to.Greeting)
	if err != nil {
		return err
	}
	if !r.Positive() {
		return s.replyError(StageGreeting, r.Reply)
	}
	hello := s.hello
	if !s.opt.LMTP && (s.opt.NeverEHLO || s.opt.HeloUnlessESMTP && !strings.Contains(strings.ToUpper(r.Text), "ESMTP")) {
		hello = func(ctx context.Context) error { return s.helo(ctx, s.heloName()) }
	}
	if err := hello(ctx); err != nil {
		return err
	}
	if err := s.startTLS(ctx); err != nil {
		return err
	}
	return s.authenticate(ctx)
}

// hello sends EHLO or LHLO, and HELO when an SMTP server refuses EHLO
// with a 5xx reply.
func (s *Session) hello(ctx context.Context) error {
	name := s.heloName()
	stage := StageEHLO
	if s.opt.LMTP {
		stage = StageLHLO
	}
	r, err := s.cmd(ctx, stage, s.to.Helo, stage+" "+name)
	if err != nil {
		return err
	}
	if r.Positive() {
		s.ext = parseEHLO(r.lines)
		for kw := range s.opt.DiscardEHLO {
			delete(s.ext, kw)
		}
		return nil
	}
	if s.opt.LMTP || !r.Permanent() {
		return s.replyError(stage, r.Reply)
	}
	return s.helo(ctx, name)
}

// helo says HELO: to an SMTP server that refused EHLO, or whose greeting
// did not announce ESMTP when only those get EHLO. The session then has
// no extensions.
func (s *Session) helo(ctx context.Context, name string) error {
	r, err := s.cmd(ctx, StageHELO, s.to.Helo, "HELO "+name)
	if err != nil {
		return err
	}
	if !r.Positive() {
		return s.replyError(StageHELO, r.Reply)
	}
	s.ext = map[string]string{}
	return nil
}

// heloName is the name the client gives in EHLO, LHLO or HELO.
func (s *Session) heloName() string {
	if s.opt.Helo != "" {
		return s.opt.Helo
	}
	if name, _ := os.Hostname(); name != "" {
		return name
	}
	return "localhost"
}

// Extensions reports what the server announced in its EHLO or LHLO reply
// (keyword in upper case → parameter text), e.g. "SIZE": "10240000".
func (s *Session) Extensions() map[string]string { return maps.Clone(s.ext) }

// TLS returns the state of the TLS connection, or nil without TLS.
func (s *Session) TLS() *tls.ConnectionState { return s.tls }

// Has reports whether the server announced the extension kw (upper case),
// without copying the list as Extensions does.
func (s *Session) Has(kw string) bool {
	_, ok := s.ext[kw]
	return ok
}

// Reset sends RSET so that the session can carry another message.
func (s *Session) Reset(ctx context.Context) error {
	if s.broken {
		return &Error{Peer: s.peerName, Stage: StageRset, Temporary: true, Status: statusConn, Err: net.ErrClosed}
	}
	stop := s.watch(ctx)
	defer stop()
	return s.rset(ctx)
}

func (s *Session) rset(ctx context.Context) error {
	r, err := s.cmd(ctx, StageRset, s.to.Rset, "RSET")
	if err != nil {
		return err
	}
	if !r.Positive() {
		s.shutdown()
		return s.replyError(StageRset, r.Reply)
	}
	return nil
}

// Close sends QUIT (when the session is still usable) and closes the
// connection.
func (s *Session) Close(ctx context.Context) error {
	if s.broken {
		return nil
	}
	stop := s.watch(ctx)
	defer stop()
	s.quit(ctx)
	return s.shutdown()
}

// quit says QUIT and, unless Options.SkipQuitResponse, waits for the
// reply, ignoring what goes wrong.
func (s *Session) quit(ctx context.Context) {
	if s.broken {
		return
	}
	if !s.opt.SkipQuitResponse {
		_, _ = s.cmd(ctx, StageQuit, s.to.Quit, "QUIT")
		return
	}
	if s.arm(ctx, s.to.Quit) == nil {
		s.bw.WriteString("QUIT\r\n")
		if s.bw.Flush() == nil {
			s.trace('>', "QUIT")
		}
	}
}

// shutdown closes the connection for good.
func (s *Session) shutdown() error {
	if s.broken {
		return nil
	}
	s.broken = true
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("close connection with %s: %w", s.peerName, err)
	}
	return nil
}

// watch makes the cancellation of ctx interrupt any I/O in progress.
func (s *Session) watch(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		_ = s.conn.SetDeadline(time.Unix(1, 0))
	})
}

// arm sets the connection's deadline to d from now, or ctx's deadline
// when that comes first.
func (s *Session) arm(ctx context.Context, d time.Duration) error {
	return s.armAt(ctx, time.Now().Add(d))
}

// armAt sets the connection's deadline to dl, or ctx's deadline when that
// comes first.
func (s *Session) armAt(ctx context.Context, dl time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if cd, ok := ctx.Deadline(); ok && cd.Before(dl) {
		dl = cd
	}
	return s.conn.SetDeadline(dl)
}

// cmd sends one command line and reads its reply. I/O failures close the
// session and come back as *Error; any reply, good or bad, is returned.
// A 421 reply also closes the session, after which the caller reports it.
func (s *Session) cmd(ctx context.Context, stage string, timeout time.Duration, line string) (response, error) {
	if err := s.arm(ctx, timeout); err != nil {
		s.shutdown()
		return response{}, s.ioError(ctx, stage, err)
	}
	s.bw.WriteString(line)
	s.bw.WriteString("\r\n")
	if err := s.bw.Flush(); err != nil {
		s.shutdown()
		return response{}, s.ioError(ctx, stage, err)
	}
	s.trace('>', traceCommand(stage, line))
	return s.readArmed(ctx, stage)
}

// trace passes a line of the conversation to Options.Trace.
func (s *Session) trace(dir byte, line string) {
	if s.opt.Trace != nil {
		s.opt.Trace(dir, line)
	}
}

// traceCommand is a command as the trace shows it: AUTH initial and
// continued responses, which hold the password, are starred out.
func traceCommand(stage, line string) string {
	if stage != StageAuth {
		return line
	}
	if verb, rest, _ := strings.Cut(line, " "); strings.EqualFold(verb, "AUTH") {
		if mech, _, ok := strings.Cut(rest, " "); ok {
			return verb + " " + mech + " ********"
		}
		return line
	}
	return "********"
}

// read waits up to timeout for a reply.
func (s *Session) read(ctx context.Context, stage string, timeout time.Duration) (response, error) {
	if err := s.arm(ctx, timeout); err != nil {
		s.shutdown()
		return response{}, s.ioError(ctx, stage, err)
	}
	return s.readArmed(ctx, stage)
}

func (s *Session) readArmed(ctx context.Context, stage string) (response, error) {
	r, err := readReply(s.br)
	if err != nil {
		s.shutdown()
		return response{}, s.ioError(ctx, stage, err)
	}
	if s.opt.Trace != nil {
		for i, l := range r.lines {
			sep := "-"
			if i == len(r.lines)-1 {
				sep = " "
			}
			s.trace('<', strconv.Itoa(r.Code)+sep+l)
		}
	}
	if r.Code == 421 {
		s.shutdown()
	}
	return r, nil
}
