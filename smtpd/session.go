package smtpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
	"github.com/tern-mta/tern/smtpd/screen"
)

// client names the peer of a session as Postfix logs it: "name[addr]".
type client struct {
	addr netip.Addr
	port int
	name string // verified reverse name, or "unknown"
	// logPort adds ":port" to the client in logs
	// (smtpd_client_port_logging).
	logPort bool
}

func (c client) String() string {
	if c.logPort && c.port != 0 {
		return c.name + "[" + c.addr.String() + "]:" + strconv.Itoa(c.port)
	}
	return c.name + "[" + c.addr.String() + "]"
}

// transaction is one MAIL ... DATA/BDAT LAST exchange.
type transaction struct {
	sender   string
	size     int64 // SIZE= as declared, 0 if none
	smtputf8 bool
	ret      string
	envid    string
	verp     string // XVERP's delimiters, "" for none
	rcpts    []envelope.Recipient
	chunks   *chunking // non-nil once BDAT has begun
	// prepend holds the header lines PREPEND actions asked for, which
	// go on top of the message.
	prepend []string
	// hold and discard are set by HOLD and DISCARD actions: the message
	// goes to the hold queue, or is accepted and dropped.
	hold, discard bool
	// filter is the transport:nexthop of a FILTER action, which wins
	// over content_filter; redirect the address of a REDIRECT action,
	// which replaces the recipients once the message is queued.
	filter, redirect string
	// instance tells this transaction apart for policy servers.
	instance string
	// overshoot counts the recipients refused past smtpd_recipient_limit.
	overshoot int
	// proxy is the conversation with smtpd_proxy_filter, which takes the
	// transaction instead of the queue; with speed_adjust, proxyMail and
	// proxyRcpts are the commands it gets once the message is in.
	proxy      *proxyConn
	proxyMail  string
	proxyRcpts []string
}

// session is one SMTP connection, from greeting to close.
type session struct {
	srv *Server
	lim *sessionLimits // smtpd_timeout and the others that follow stress
	// peer is the connection's own client address (or the one a PROXY
	// header named); XCLIENT may change client, not peer.
	peer     netip.Addr
	conn     net.Conn
	src      *carrySource // what br reads: input carried over, then conn
	br       *bufio.Reader
	bw       *bufio.Writer
	client   client
	tls      *tls.ConnectionState
	ccert    *restrict.ClientCert // the client's TLS certificate, nil for none
	helo     string
	prepend  []string // PREPEND lines from the client and HELO stages
	esmtp    bool
	authUser string
	authMech string
	tx       *transaction
	fwd      *forwarded // XFORWARD attributes for the next transaction; nil: none
	// milt is the conversation with smtpd_milters (nil: none), and
	// macros the Sendmail macros it reads at each stage.
	milt   *milters.Conversation
	macros *milter.MacroBag
	errors int
	junk   int // junk commands (NOOP, VRFY, ETRN, RSET) since mail was last queued
	// notAnError keeps the next refusal out of the error count: one of the
	// first smtpd_recipient_overshoot_limit recipients past the limit.
	notAnError bool
	// transcript is the conversation so far and problems its problem
	// classes, for the postmaster notices of notify_classes (notice.go).
	transcript []turn
	problems   int
	// debug logs the conversation: the client is in debug_peer_list.
	debug   bool
	counts  commandCounts
	last    string // the last command verb, for "lost connection after X"
	closing bool
	// connReject is a client restriction's reject under
	// smtpd_delay_reject = no: every later command gets it.
	connReject reply.Reply
	// screenReject is the reply every RCPT gets from a client that
	// failed a postscreen test whose action is enforce.
	screenReject reply.Reply
	// deep, when set, runs postscreen's deep protocol tests (screen.Deep).
	deep      *screen.Deep
	pipelined bool
	// pipeliningOK: the client said EHLO and was offered PIPELINING.
	pipeliningOK bool
	policy       *restrict.Session // nil: no restrictions (tests)
	// waiting is set while the session waits for a command; stopping
	// once smtpd stops. Together they let a stop interrupt only an idle
	// wait.
	waiting, stopping atomic.Bool
}

func newSession(srv *Server, conn net.Conn, c client, lim *sessionLimits) *session {
	s := &session{srv: srv, conn: conn, client: c, peer: c.addr, last: "CONNECT", lim: lim}
	s.readFrom(conn)
	s.bw = bufio.NewWriterSize(conn, 4096)
	if srv.checker != nil {
		s.policy = srv.checker.NewSession()
	}
	if tc, ok := conn.(*tls.Conn); ok {
		st := tc.ConnectionState()
		s.tls = &st
	}
	return s
}

// send writes a reply; it goes out at the next flush.
func (s *session) send(r reply.Reply) {
	if r.Permanent() || r.Temporary() {
		r.Text += s.rejectFooter(r)
		if s.notAnError {
			s.notAnError = false
		} else {
			s.errors++
			if s.errors > s.srv.set.softErrorLimit && s.srv.set.errorSleep > 0 {
				_ = s.bw.Flush()
				time.Sleep(s.srv.set.errorSleep)
			}
		}
	}
	lines := r.Lines(true)
	s.noteReply(r, lines)
	if s.debug {
		for _, l := range strings.SplitAfter(strings.TrimSuffix(lines, "\r\n"), "\r\n") {
			s.srv.log.Infof("> %s: %s", s.client, strings.TrimSuffix(l, "\r\n"))
		}
	}
	_, _ = s.bw.WriteString(lines)
}

func (s *session) flush() error {
	s.deadline()
	return s.bw.Flush()
}

// shuttingDown tells the client that smtpd stops (RFC 5321 section 3.8).
func (s *session) shuttingDown() {
	_ = s.conn.SetDeadline(time.Now().Add(10 * time.Second))
	s.send(reply.New(reply.CodeUnavailable, "4.3.2", "%s Service shutting down, closing transmission channel", s.srv.set.hostname))
	_ = s.bw.Flush()
}

// deadline arms smtpd_timeout for the next read or write; while waiting
// for a command after a stop it expires at once.
func (s *session) deadline() {
	if s.waiting.Load() && s.stopping.Load() {
		_ = s.conn.SetDeadline(time.Now())
		return
	}
	_ = s.conn.SetDeadline(time.Now().Add(s.lim.timeout))
}

// serve runs the session until QUIT, a fatal error or ctx ends.
func (s *session) serve(ctx context.Context) {
	log := s.srv.log
	log.Infof("connect from %s", s.client)
	s.debug = s.srv.debugPeer(s.client)
	defer func() {
		s.reset() // a transaction the client left: its filter or queue connection goes
		if s.milt != nil {
			s.milt.Close()
		}
		s.sendNotice()
		log.Infof("disconnect from %s %s", s.client, s.counts)
	}()
	if s.tlsStarted(); s.closing { // implicit TLS (smtpd_tls_wrappermode)
		return
	}
	if r := s.srv.checkConnect(s); !r.IsZero() {
		s.send(r)
		_ = s.flush()
		return
	}
	if r := s.check(ctx, restrict.Connect, ""); !r.IsZero() {
		s.connReject = r
	}
	s.startMilters()
	s.send(reply.Reply{Code: reply.CodeReady, Text: s.srv.set.banner})
	// On stop, a client waiting between commands is told at once; one in
	// the middle of a command or of DATA is left to finish it.
	raw := s.conn
	stop := context.AfterFunc(ctx, func() {
		s.stopping.Store(true)
		if s.waiting.Load() {
			_ = raw.SetReadDeadline(time.Now())
		}
	})
	defer stop()
	for !s.closing {
		if s.br.Buffered() == 0 {
			if err := s.flush(); err != nil {
				s.lost(err)
				return
			}
		}
		s.waiting.Store(true)
		if ctx.Err() != nil {
			s.shuttingDown()
			return
		}
		s.deadline()
		line, tooLong, bareLF, err := readLine(s.br, s.srv.set.lineLimit)
		s.waiting.Store(false)
		if err != nil {
			if ctx.Err() != nil {
				s.shuttingDown()
				return
			}
			s.lost(err)
			return
		}
		if s.debug {
			log.Infof("< %s: %s", s.client, debugLine(line, tooLong))
		}
		s.record(debugLine(line, tooLong))
		if bareLF && s.deepFail(screen.BareNewline, nil) {
			continue // dropped: the loop ends and flushes the reply
		}
		switch {
		case tooLong:
			s.send(replyLineTooLong)
		case bareLF && s.rejectBareLF():
			s.send(s.bareLFReply())
		default:
			s.command(ctx, line)
		}
		if s.errors >= s.lim.hardErrorLimit && !s.closing {
			log.Infof("too many errors after %s from %s", s.last, s.client)
			s.send(reply.New(reply.CodeUnavailable, reply.StatusTempPolicy, "%s Error: too many errors", s.srv.set.hostname))
			s.closing = true
		}
	}
	_ = s.flush()
}

// lost logs the end of a connection that the client did not QUIT.
func (s *session) lost(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.send(reply.New(reply.CodeUnavailable, reply.StatusTempConn, "%s Error: timeout exceeded", s.srv.set.hostname))
		_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_ = s.bw.Flush()
		s.srv.log.Infof("timeout after %s from %s", s.last, s.client)
		return
	}
	s.srv.log.Infof("lost connection after %s from %s", s.last, s.client)
}

// command runs one command line, as smtpd_command_filter rewrites it.
func (s *session) command(ctx context.Context, line string) {
	line = s.filterCommand(line)
	cmd := parseCommand(line)
	if strings.ContainsRune(line, 0) {
		s.counts.add("unknown", false)
		s.send(replyBadSyntax)
		return
	}
	if s.srv.set.noopCommands[cmd.verb] {
		// smtpd_noop_commands: 250, no syntax check, no state change.
		s.last = cmd.verb
		s.countJunk()
		s.send(replyOK)
		return
	}
	h, ok := s.handler(cmd.verb)
	set := &s.srv.set
	if s.deep != nil && set.screenForbidden.matches(cmd.verb, line, ok, s.srv.log) && s.deepFail(screen.NonSMTPCommand, []byte(line)) {
		return
	}
	if set.forbidden.matches(cmd.verb, line, ok, s.srv.log) {
		// An HTTP or proxy request, or other non-SMTP talk.
		s.srv.log.Warnf("non-SMTP command from %s: %.100s", s.client, line)
		s.counts.add("unknown", false)
		// 2.7.0: a policy status on a closing reply, as Postfix sends it.
		s.send(reply.New(reply.CodeClosing, "2.7.0", "Error: I can break rules, too. Goodbye."))
		s.closing = true
		return
	}
	if !ok {
		s.last = "UNKNOWN"
		s.counts.add("unknown", false)
		s.send(replyNotRecognized)
		return
	}
	s.last = cmd.verb
	if s.unauthPipelining(cmd.verb) && s.pipeliningViolation(cmd.verb) {
		s.counts.add(strings.ToLower(cmd.verb), false)
		return
	}
	switch cmd.verb {
	case "NOOP", "VRFY", "ETRN", "RSET":
		s.countJunk()
	}
	r := h(ctx, cmd.arg)
	s.counts.add(strings.ToLower(cmd.verb), r.Positive() || r.IsZero())
	if !r.IsZero() {
		s.send(r)
	}
}

type handler func(ctx context.Context, arg string) reply.Reply

// handler returns the handler of a command verb. A switch rather than a
// map of closures: this runs for every command of every session.
func (s *session) handler(verb string) (handler, bool) {
	switch verb {
	case "HELO":
		return func(ctx context.Context, a string) reply.Reply { return s.hello(ctx, a, false) }, true
	case "EHLO":
		return func(ctx context.Context, a string) reply.Reply { return s.hello(ctx, a, true) }, true
	case "MAIL":
		return s.mail, true
	case "RCPT":
		return s.rcpt, true
	case "DATA":
		return s.data, true
	case "BDAT":
		return s.bdat, true
	case "RSET":
		return s.rset, true
	case "NOOP":
		return func(context.Context, string) reply.Reply { return replyOK }, true
	case "QUIT":
		return s.quit, true
	case "VRFY":
		return s.vrfy, true
	case "HELP":
		return s.help, true
	case "STARTTLS":
		return s.starttls, true
	case "AUTH":
		return s.auth, true
	case "XFORWARD":
		return s.xforward, true
	case "XCLIENT":
		return s.xclient, true
	case "ETRN":
		return s.etrn, true
	}
	return nil, false
}

var replyOK = reply.New(reply.CodeOK, reply.StatusOK, "Ok")

func (s *session) rset(_ context.Context, arg string) reply.Reply {
	if arg != "" {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: RSET")
	}
	s.reset()
	s.flushHistory()
	return replyOK
}

// reset abandons the transaction in progress.
func (s *session) reset() {
	if s.tx != nil && s.tx.chunks != nil {
		s.tx.chunks.abort()
	}
	s.endTransaction()
}

// endTransaction forgets the transaction, and the XFORWARD attributes,
// which last one transaction.
func (s *session) endTransaction() {
	if s.tx != nil && s.tx.proxy != nil {
		s.tx.proxy.close()
	}
	if s.milt != nil {
		s.milt.EndTransaction()
	}
	s.tx = nil
	s.fwd = nil
}

func (s *session) quit(context.Context, string) reply.Reply {
	s.reset()
	s.closing = true
	return reply.New(reply.CodeClosing, reply.StatusOK, "Bye")
}

func (s *session) vrfy(_ context.Context, arg string) reply.Reply {
	if s.srv.set.vrfyDisabled {
		return reply.New(reply.CodeNotImplemented, reply.StatusBadCommand, "VRFY command is disabled")
	}
	if arg == "" {
		return reply.New(reply.CodeSyntaxParams, reply.StatusBadParams, "Syntax: VRFY address")
	}
	// RFC 5321 section 3.5.3: 252 when the server will not say more.
	return reply.New(reply.CodeCannotVRFY, reply.StatusOK, "%s", arg)
}

func (s *session) help(context.Context, string) reply.Reply {
	return reply.New(reply.CodeHelp, reply.StatusOK,
		"Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY STARTTLS AUTH")
}

// hello serves HELO and EHLO (RFC 5321 section 4.1.1.1).
func (s *session) hello(ctx context.Context, arg string, esmtp bool) reply.Reply {
	verb := "HELO"
	if esmtp {
		verb = "EHLO"
	}
	if arg == "" {
		return reply.New(reply.CodeSyntaxParams, "", "Syntax: %s hostname", verb)
	}
	if !s.connReject.IsZero() {
		return s.connReject
	}
	s.reset()
	s.flushHistory()
	s.helo, s.esmtp = arg, esmtp
	if r := s.check(ctx, restrict.Helo, ""); !r.IsZero() {
		return r
	}
	if r := s.milterHelo(arg); !r.IsZero() {
		return r
	}
	if !esmtp {
		s.pipeliningOK = false
		return reply.New(reply.CodeOK, "", "%s", s.srv.set.hostname)
	}
	ext := s.extensions()
	s.pipeliningOK = slices.Contains(ext, "PIPELINING")
	return reply.Reply{Code: reply.CodeOK, Text: strings.Join(append([]string{s.srv.set.hostname}, ext...), "\n")}
}

// extensions lists the EHLO keywords this session offers.
func (s *session) extensions() []string {
	set := s.srv.set
	var ext []string
	if !s.deep.Tests(screen.Pipelining) { // the test needs a client not offered it
		ext = append(ext, "PIPELINING")
	}
	if set.sizeLimit > 0 {
		ext = append(ext, fmt.Sprintf("SIZE %d", set.sizeLimit))
	} else {
		ext = append(ext, "SIZE")
	}
	if !set.vrfyDisabled {
		ext = append(ext, "VRFY")
	}
	ext = append(ext, "ETRN")
	if s.srv.tlsConfig != nil && s.tls == nil {
		ext = append(ext, "STARTTLS")
	}
	if mechs := s.authMechanisms(); len(mechs) > 0 {
		ext = append(ext, "AUTH "+strings.Join(mechs, " "))
		if set.brokenAuthClients {
			ext = append(ext, "AUTH="+strings.Join(mechs, " "))
		}
	}
	ext = append(ext, "ENHANCEDSTATUSCODES", "8BITMIME", "DSN")
	if set.smtputf8 {
		ext = append(ext, "SMTPUTF8")
	}
	if set.proxy == nil {
		// BDAT is not passed on to a before-queue filter.
		ext = append(ext, "CHUNKING")
	}
	if s.xclientAllowed() {
		ext = append(ext, xclientExtension)
	}
	if s.xforwardAllowed() {
		ext = append(ext, xforwardExtension)
	}
	if s.verpAllowed() {
		ext = append(ext, "XVERP")
	}
	discard := s.discardedKeywords()
	out := ext[:0]
	for _, e := range ext {
		kw, _, _ := strings.Cut(e, " ")
		if !discard[strings.ToLower(kw)] {
			out = append(out, e)
		}
	}
	return out
}

// protocol is what the Received header and logs call the session:
// SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA (RFC 3848).
func (s *session) protocol() string {
	if !s.esmtp {
		return "SMTP"
	}
	p := "ESMTP"
	if s.tls != nil {
		p += "S"
	}
	if s.authUser != "" {
		p += "A"
	}
	return p
}

// needTLS is the reply when smtpd_tls_security_level = encrypt and the
// session is not yet encrypted (RFC 3207 section 4).
func (s *session) needTLS() reply.Reply {
	if s.srv.set.tlsLevel == "encrypt" && s.tls == nil {
		return reply.New(reply.CodeAuthRequired, reply.StatusEncryptRequired, "Must issue a STARTTLS command first")
	}
	return reply.Reply{}
}

// facts is what the restrictions see now.
func (s *session) facts(rcpt string) restrict.Facts {
	f := restrict.Facts{
		ClientAddr: s.client.addr, ClientName: s.client.name, ClientPort: s.client.port,
		Helo: s.helo, SASLUser: s.authUser, TLS: s.tls != nil, ClientCert: s.ccert, Pipelined: s.pipelined,
		Protocol: s.protocol(), Recipient: rcpt,
	}
	if s.authUser != "" {
		f.SASLMethod = s.authMech
	}
	if s.tx != nil {
		f.Sender = s.tx.sender
		f.RecipientCount = len(s.tx.rcpts)
		f.Instance, f.Size = s.tx.instance, s.tx.size
	}
	return f
}

// keepPrepend keeps the header lines a passed stage's PREPEND actions
// asked for: on the session before MAIL (smtpd_delay_reject = no), for
// every transaction to come; on the transaction from MAIL to DATA. At
// the end of data the content has gone to the queue, so they are logged
// and dropped.
func (s *session) keepPrepend(stage restrict.Stage, lines []string) {
	if len(lines) == 0 {
		return
	}
	switch {
	case stage == restrict.EndOfData:
		s.srv.log.Warnf("PREPEND in smtpd_end_of_data_restrictions is ignored: the message is already queued: %s", strings.Join(lines, "; "))
	case s.tx == nil:
		s.prepend = appendNew(s.prepend, lines)
	default:
		s.tx.prepend = appendNew(s.tx.prepend, lines)
	}
}

// appendNew appends the lines not already in have.
func appendNew(have, lines []string) []string {
	for _, l := range lines {
		if !slices.Contains(have, l) {
			have = append(have, l)
		}
	}
	return have
}

// check runs the restrictions of a stage and logs a rejection as Postfix
// does ("NOQUEUE: reject: RCPT from ...").
func (s *session) check(ctx context.Context, stage restrict.Stage, rcpt string) reply.Reply {
	if s.policy == nil {
		return reply.Reply{}
	}
	res := s.policy.Check(ctx, stage, s.facts(rcpt))
	if res.Reply.IsZero() || res.Reply.Positive() {
		s.keepPrepend(stage, res.Prepend)
		s.keepActions(stage, rcpt, res)
		return reply.Reply{}
	}
	s.logWhatsup("reject", stage, rcpt, res.Reply.String())
	return res.Reply
}

// logWhatsup logs what a restriction did, as Postfix's smtpd does
// ("NOQUEUE: reject: RCPT from name[addr]: text; from=<...> to=<...>
// proto=ESMTP helo=<...>"): the message has no queue id yet.
func (s *session) logWhatsup(what string, stage restrict.Stage, rcpt, text string) {
	verb := map[restrict.Stage]string{restrict.Connect: "CONNECT", restrict.Helo: s.last,
		restrict.Mail: "MAIL", restrict.Rcpt: "RCPT", restrict.Data: "DATA", restrict.EndOfData: "END-OF-MESSAGE"}[stage]
	var from, to string
	if s.tx != nil {
		from = fmt.Sprintf(" from=<%s>", s.tx.sender)
	}
	if rcpt != "" {
		to = fmt.Sprintf(" to=<%s>", rcpt)
	}
	s.srv.log.Infof("NOQUEUE: %s: %s from %s: %s;%s%s proto=%s helo=<%s>",
		what, verb, s.client, text, from, to, s.protocol(), s.helo)
	if strings.HasSuffix(what, "reject") {
		s.problems |= problemPolicy
	}
}

// keepActions applies the HOLD and DISCARD actions of a passed stage to
// the transaction, logging each the first time. Before MAIL (with
// smtpd_delay_reject = no) there is no message to act on, and Postfix
// skips them with a warning; so does tern. At the end of data the
// message's envelope has gone to the queue: DISCARD still drops it, HOLD
// is logged and ignored.
func (s *session) keepActions(stage restrict.Stage, rcpt string, res restrict.Result) {
	if res.Hold == "" && res.Discard == "" && res.Filter == "" && res.Redirect == "" {
		return
	}
	if s.tx == nil {
		s.srv.log.Warnf("access action HOLD, DISCARD, FILTER or REDIRECT in a client or HELO restriction is skipped with smtpd_delay_reject = no: %s%s%s%s",
			res.Hold, res.Discard, res.Filter, res.Redirect)
		return
	}
	if res.Redirect != "" && stage != restrict.EndOfData && s.tx.redirect != res.Redirect {
		s.tx.redirect = res.Redirect
		s.logWhatsup("redirect", stage, rcpt, res.RedirectLog)
	}
	if res.Filter != "" && stage != restrict.EndOfData && s.tx.filter != res.Filter {
		s.tx.filter = res.Filter
		s.logWhatsup("filter", stage, rcpt, res.FilterLog)
	}
	if res.Hold != "" && !s.tx.hold && !s.tx.discard {
		if stage == restrict.EndOfData {
			s.srv.log.Warnf("HOLD in smtpd_end_of_data_restrictions is ignored: the message is already on its way to the queue: %s", res.Hold)
		} else {
			s.tx.hold = true
			s.logWhatsup("hold", stage, rcpt, res.Hold)
		}
	}
	if res.Discard != "" && !s.tx.discard {
		s.tx.discard = true
		s.logWhatsup("discard", stage, rcpt, res.Discard)
	}
}

// rejectBareLF reports whether smtpd_forbid_bare_newline = reject applies
// to this client.
func (s *session) rejectBareLF() bool {
	return s.srv.set.bareLF == bareLFReject && !s.srv.exempt(s.srv.set.bareLFExempt, s.client.addr)
}

func (s *session) bareLFReply() reply.Reply {
	s.srv.log.Infof("disconnect: bare <LF> received from %s after %s", s.client, s.last)
	return reply.New(s.srv.set.bareLFCode, reply.StatusSyntax, "Error: bare <LF> received")
}
