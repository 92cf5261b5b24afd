package qmgr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/message"
	"github.com/tern-mta/tern/pkg/queue"
)

// Submission protocol attributes, shared by the cleanup and pickup services
// (see pkg/sendmail for the client side of pickup).
const (
	attrRequest = "request"
	attrStatus  = "status"
	attrID      = "id"
	attrCode    = "code" // sysexits value for sendmail
	attrDSN     = "dsn"
	attrText    = "text"
	attrOrigin  = "origin" // cleanup: "smtpd" (default), "forward", or "notice" (smtpd's postmaster notices)
	attrSMTP    = "smtp"   // reply: the SMTP code smtpd should give
)

// Exit codes of sysexits.h returned to sendmail.
const (
	exDataErr     = 65
	exUnavailable = 69 // Postfix's sendmail exit for message_size_limit
	exSoftware    = 70
	exTempFail    = 75
	exNoPerm      = 77 // authorized_submit_users refused the submitter
)

// rejection is a submission refused with an SMTP-style status.
type rejection struct {
	code int    // sysexits value
	dsn  string // enhanced status
	text string
	// smtp, when not 0, is the reply code smtpd gives with the text as
	// it is (550 for content checks, as Postfix's smtpd replies).
	smtp int
}

func (r *rejection) Error() string { return r.dsn + " " + r.text }

// submission is one message arriving at cleanup, pickup or from maildrop.
type submission struct {
	env      *envelope.Envelope
	tls      string // smtpd: the TLS session, for Received
	local    bool   // from sendmail: add From:, local Received
	forward  bool   // from local(8) forwarding: content is already clean
	notice   bool   // smtpd's postmaster notice: local, but no submitter check
	dsn      bool   // qmgr's own delivery status notification: no Received
	saslUser string // smtpd: the client's SASL login name
	// saslHeader: smtpd_sasl_authenticated_header is on for its service.
	saslHeader bool
	gecosName  string
	prepend    []string // smtpd: PREPEND header lines
	hold       bool     // smtpd: a HOLD action put the message on hold
	redirect   string   // smtpd: a REDIRECT action's address
	// overrides are receive_override_options: no_address_mappings,
	// no_header_body_checks (the service's, or main.cf's for sendmail).
	overrides map[string]bool
	// clientLog is smtpd's client= line (after the queue id) and
	// smtpdLog the Logger that writes it as smtpd's: accept writes it
	// once the message is queued, before qmgr's own lines about it.
	clientLog string
	smtpdLog  *maillog.Logger
}

// authenticatedSender is the SASL login name for the Received header, when
// the client's smtpd service asks for it.
func (s *submission) authenticatedSender() string {
	if s.saslHeader {
		return s.saslUser
	}
	return ""
}

// accept runs the message through cleanup into the queue, durably, and hands
// it to the scheduler. It returns the queue id.
func (m *Manager) accept(ctx context.Context, s *submission, body io.Reader) (string, error) {
	env := s.env
	if s.local && !s.notice {
		if err := m.checkSubmitter(env); err != nil {
			return "", err
		}
		if err := m.checkLoginSender(env); err != nil {
			return "", err
		}
	}
	env.ID = m.q.NewID()
	if env.Arrival.IsZero() {
		env.Arrival = time.Now()
	}
	if s.redirect != "" {
		redirect(env, s.redirect)
	}
	m.qualify(env)
	switch {
	case env.VERP != "" && !envelope.VERPDelimitersOK(env.VERP, m.settings.verpFilter):
		return "", &rejection{code: exDataErr, dsn: "5.5.4", text: "VERP needs two characters from " + m.settings.verpFilter, smtp: 501}
	case env.Sender == "":
		env.VERP = "" // the null sender stays null
	}
	if m.rewriter != nil && !s.overrides["no_address_mappings"] {
		var err error
		if !s.forward {
			err = m.rewriter.addBCC(env)
		}
		if err == nil {
			err = m.rewriter.envelope(env)
		}
		if err != nil {
			m.log.Warnf("%s: %v", env.ID, err)
			return "", rewriteRejection(err)
		}
	}
	if len(env.Recipients) == 0 {
		return "", &rejection{code: exDataErr, dsn: "5.1.3", text: "no recipients specified"}
	}
	draft, err := m.q.NewDraft()
	if err != nil {
		return "", &rejection{code: exTempFail, dsn: "4.3.0", text: "queue file write error"}
	}
	limit := m.settings.messageSizeLimit
	lr := &limitReader{r: body, left: limit}
	if limit <= 0 {
		lr.left = math.MaxInt64 // message_size_limit = 0: no limit
	}
	// The mail system's own notices are inspected only when
	// internal_mail_filter_classes names them, as in Postfix.
	inspected := !s.notice || m.settings.filterNotices
	var checks *inspection
	if !s.forward && !s.overrides["no_header_body_checks"] && inspected {
		checks = inspect(m.checks, env, m.log)
	}
	var content io.Reader = lr
	var filter *localFilter
	if s.local && len(m.localMilters) > 0 && !s.overrides["no_milters"] && inspected {
		if filter, err = m.filterLocal(env, lr); err != nil {
			draft.Abort()
			return "", err
		}
		defer filter.close()
		if filter.discard {
			draft.Abort()
			return env.ID, nil // claimed delivered, as DISCARD asks
		}
		content = filter.content
	}
	var chars *charFilter
	if set := m.settings; (set.rejectChars != nil || set.stripChars != nil) && !s.forward {
		chars = &charFilter{r: content, strip: set.stripChars, reject: set.rejectChars}
		content = chars
	}
	res, err := m.cleanupContent(s, draft, content, checks)
	if err == nil && limit > 0 && lr.over {
		err = &rejection{code: exUnavailable, dsn: "5.3.4", text: "message file too big"}
	}
	if err == nil && chars != nil && chars.rejected {
		err = &rejection{code: exDataErr, dsn: "5.6.0", text: "Error: message content rejected", smtp: 550}
	}
	if err == nil && checks != nil && checks.reject != nil {
		err = checks.reject
	}
	if err == nil && res.MIMEError != nil {
		// As Postfix's cleanup: "reject: mime-error PROBLEM: TEXT from ...".
		logContentAction(m.log, env, "reject", "mime-error "+res.MIMEError.Problem+":", res.MIMEError.Text, "")
		err = &rejection{code: exDataErr, dsn: "5.6.0", text: res.MIMEError.Problem, smtp: 550}
	}
	if err != nil {
		draft.Abort()
		var rj *rejection
		if errors.As(err, &rj) {
			return "", err
		}
		return "", &rejection{code: exTempFail, dsn: "4.3.0", text: fmt.Sprintf("message not accepted: %v", err)}
	}
	if checks != nil && checks.discard {
		// Claimed delivered, as DISCARD asks; nothing is queued.
		draft.Abort()
		return env.ID, nil
	}
	// milter_header_checks' routing first: the content checks' wins.
	mf, mr := filter.routing()
	cf, cr := checks.routing()
	for _, r := range [][2]string{{mf, mr}, {cf, cr}} {
		if err := m.applyCheckRouting(env, s, r[0], r[1]); err != nil {
			draft.Abort()
			return "", err
		}
	}
	hold := s.hold || checks != nil && checks.hold || filter != nil && filter.hold
	env.EightBit = res.EightBit
	env.UTF8Header = res.UTF8Header
	switch {
	case !m.settings.smtputf8:
		env.SMTPUTF8 = false
	case !env.SMTPUTF8 && m.settings.autodetectUTF8(s) && (res.UTF8Header || !envelopeASCII(env)):
		env.SMTPUTF8 = true
	}
	if res.TooManyHops {
		for i := range env.Recipients {
			r := &env.Recipients[i]
			r.Status, r.DSN, r.Reason = envelope.Failed, "5.4.6", "too many hops"
		}
	}
	// A submission whose content has arrived is committed even when
	// shutdown has begun: the client is waiting for the answer.
	state := queue.Incoming
	if hold {
		state = queue.Hold
	}
	if err := m.q.Commit(context.WithoutCancel(ctx), env, draft, state); err != nil {
		return "", &rejection{code: exTempFail, dsn: "4.3.0", text: "queue file write error"}
	}
	if s.clientLog != "" {
		s.smtpdLog.Infof("%s: %s", env.ID, s.clientLog)
	}
	if s.local {
		m.log.Infof("%s: uid=%d from=<%s>", env.ID, env.SubmitUID, env.Sender)
	}
	if res.MessageID != "" {
		m.log.Infof("%s: message-id=%s", env.ID, res.MessageID)
	}
	if hold {
		// It waits until an administrator releases it.
		m.log.Infof("%s: from=<%s>, size=%d, nrcpt=%d (queue hold)", env.ID, env.Sender, env.Size, len(env.Recipients))
		return env.ID, nil
	}
	m.log.Infof("%s: from=<%s>, size=%d, nrcpt=%d (queue active)", env.ID, env.Sender, env.Size, len(env.Recipients))
	if res.TooManyHops {
		for _, rc := range env.Recipients {
			agent.LogResult(m.log, env, rc, agent.Result{Status: agent.Bounce, DSN: rc.DSN, Text: rc.Reason, Relay: "none"}, env.Arrival)
		}
	}
	m.sched.submit(env)
	return env.ID, nil
}

func (m *Manager) cleanupContent(s *submission, w io.Writer, body io.Reader, checks *inspection) (message.Result, error) {
	if s.forward {
		// Queued as it is; only its Message-Id is read, for the log.
		br := bufio.NewReaderSize(body, 64<<10)
		id := message.PeekMessageID(br)
		ew := &message.EightBitWriter{W: w}
		n, err := io.Copy(ew, br)
		return message.Result{Size: n, EightBit: ew.EightBit, MessageID: id}, err
	}
	env := s.env
	opt := message.CleanupOptions{
		QueueID:             env.ID,
		MyHostname:          m.settings.myHostname,
		MyOrigin:            m.settings.myOrigin,
		ObsoleteFrom:        m.settings.obsoleteFrom,
		ReplaceStrayCR:      m.settings.replaceStrayCR,
		Now:                 env.Arrival,
		Local:               s.local,
		NoReceived:          s.dsn,
		SubmitUser:          env.SubmitUser,
		SubmitUID:           env.SubmitUID,
		FullName:            env.FullName,
		GecosName:           s.gecosName,
		Sender:              env.Sender,
		ClientName:          env.ClientName,
		ClientAddr:          env.ClientAddr,
		Helo:                env.Helo,
		Protocol:            env.Protocol,
		TLS:                 s.tls,
		AuthenticatedSender: s.authenticatedSender(),
		MailName:            m.settings.mailName,
		HopcountLimit:       m.settings.hopcountLimit,
		HeaderSizeLimit:     m.settings.headerSizeLimit,
		DropHeaders:         m.settings.dropHeaders,
		Buffers:             &m.cleanupBuffers,
		Prepend:             s.prepend,
		Undisclosed:         m.settings.undisclosed,
		MIME:                m.settings.mime,
	}
	if checks == nil {
		// Nesting past the limit is a problem only with header checks
		// or a strict check, as in Postfix.
		opt.MIME.ReportNesting = opt.MIME.Strict()
	}
	if len(env.Recipients) == 1 {
		opt.Recipient = env.Recipients[0].Address
	}
	if m.rewriter != nil && !s.overrides["no_address_mappings"] {
		opt.RewriteHeader = m.rewriter.headers(s)
		opt.NoMissingHeaders = m.rewriter.noMissingHeaders(s)
	}
	if checks != nil {
		opt.Inspector = checks.inspector()
	}
	return message.Cleanup(body, w, opt)
}

// qualify appends @myorigin to bare addresses (append_at_myorigin) and
// drops duplicate recipients, as Postfix's cleanup does.
func (m *Manager) qualify(env *envelope.Envelope) {
	if env.Sender != "" && !strings.Contains(env.Sender, "@") {
		env.Sender += "@" + m.settings.myOrigin
	}
	seen := make(map[string]bool, len(env.Recipients))
	out := env.Recipients[:0]
	for _, r := range env.Recipients {
		if r.Address == "" {
			r.Address = m.settings.emptyAddressRecipient
		}
		// The original is the address as given, so that delivery logs
		// orig_to=<user> for an unqualified recipient, as Postfix does;
		// with enable_original_recipient = no none is kept (no orig_to=,
		// X-Original-To shows the final address).
		switch {
		case !m.settings.keepOriginal:
			r.Original = ""
		case r.Original == "":
			r.Original = r.Address
		}
		if !strings.Contains(r.Address, "@") {
			r.Address += "@" + m.settings.myOrigin
		}
		key := strings.ToLower(r.Address)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, r)
	}
	env.Recipients = out
}

// limitReader passes at most left bytes and records whether more came. It
// keeps reading to the end so the sender is not left blocked.
type limitReader struct {
	r    io.Reader
	left int64
	over bool
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Swallow the excess to the end: the caller checks over.
		n, err := io.Copy(io.Discard, l.r)
		if n > 0 {
			l.over = true
		}
		if err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// serveCleanup serves private/cleanup: submissions from smtpd and from
// local(8) forwarding.
func (m *Manager) serveCleanup(ctx context.Context, c *ipc.Conn) {
	// Only tern's own daemons (root or mail_owner) may submit here: the
	// envelope they send is trusted. master.cf may mark the service public,
	// as Postfix's default does, so the socket mode alone is not enough.
	cred, err := ipc.PeerCred(c.NetConn())
	if err != nil || (cred.UID != 0 && int(cred.UID) != os.Geteuid()) {
		m.log.Warnf("cleanup: refusing a connection from uid %d: not a tern daemon", cred.UID)
		return
	}
	m.serveSubmit(ctx, c, false, &smtpdLogs{m: m, pid: int(cred.PID)})
}

// smtpdLogs gives the Loggers that write, as the smtpd on the other end
// of a cleanup connection, its client= lines: its program name comes
// with each request (smtpd names itself, e.g. tern/submission/smtpd), its
// process id from the kernel. The last one is kept: a connection serves
// one smtpd.
type smtpdLogs struct {
	m       *Manager
	pid     int
	program string
	log     *maillog.Logger
}

// forProgram returns the Logger for program, which must look like a
// daemon's name ("smtpd" replaces anything else).
func (l *smtpdLogs) forProgram(program string) *maillog.Logger {
	if l.log != nil && program == l.program {
		return l.log // the usual case: the same smtpd's next message
	}
	if !validProgram(program) {
		program = l.m.log.WithProgram("smtpd").Program()
	}
	l.program, l.log = program, l.m.log.As(program, l.pid)
	return l.log
}

// validProgram reports whether s can be a daemon's name in a log line:
// syslog_name parts and the daemon, such as tern/submission/smtpd.
func validProgram(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-", c)) {
			return false
		}
	}
	return true
}

// servePickup serves public/pickup: submissions from sendmail. The
// submitter's identity comes from the kernel (SO_PEERCRED), never from the
// client.
func (m *Manager) servePickup(ctx context.Context, c *ipc.Conn) {
	m.serveSubmit(ctx, c, true, nil)
}

// serveSubmit serves the submissions of one connection. smtpd, when
// not nil, writes the client= lines of cleanup's submissions.
func (m *Manager) serveSubmit(ctx context.Context, c *ipc.Conn, local bool, smtpd *smtpdLogs) {
	// smtpd keeps connections open between messages; when qmgr stops, an
	// idle one is closed at once, one in the middle of a submission is
	// left to finish.
	var mu sync.Mutex
	idle := true
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if idle {
			c.Close()
		}
	})
	defer stop()
	setIdle := func(v bool) {
		mu.Lock()
		idle = v
		mu.Unlock()
	}
	for {
		setIdle(true)
		if ctx.Err() != nil {
			return
		}
		req, err := c.Receive(ipc.FrameRequest)
		setIdle(false)
		if err != nil {
			return
		}
		if req.Get(attrRequest) == "verify" && !local {
			if !m.serveVerify(c, req) {
				return
			}
			continue
		}
		if req.Get(attrRequest) != "submit" {
			_ = c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: "error"},
				{Name: attrCode, Value: strconv.Itoa(exSoftware)}, {Name: attrText, Value: "unknown request"}})
			return
		}
		s := m.submissionFrom(req, local)
		if line := req.Get("log_client"); line != "" && smtpd != nil && !s.forward && !s.notice {
			s.clientLog, s.smtpdLog = line, smtpd.forProgram(req.Get("log_program"))
		}
		if local {
			cred, err := ipc.PeerCred(c.NetConn())
			if err != nil {
				m.log.Warnf("pickup: %v", err)
				return
			}
			m.setSubmitter(s, int(cred.UID), req.Has("sender"))
		}
		body := c.BodyReader()
		id, err := m.accept(ctx, s, body)
		if err != nil {
			// Drain what is left of the body so the reply can be read.
			_, _ = io.Copy(io.Discard, body)
		}
		if !m.reply(c, id, err) {
			return
		}
	}
}

func (m *Manager) reply(c *ipc.Conn, id string, err error) bool {
	if err == nil {
		return c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: "ok"}, {Name: attrID, Value: id}}) == nil
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return false
	}
	rj := &rejection{code: exTempFail, dsn: "4.3.0", text: err.Error()}
	errors.As(err, &rj)
	m.log.Warnf("message not accepted: %s %s", rj.dsn, rj.text)
	rec := ipc.Record{
		{Name: attrStatus, Value: "error"}, {Name: attrCode, Value: strconv.Itoa(rj.code)},
		{Name: attrDSN, Value: rj.dsn}, {Name: attrText, Value: rj.text},
	}
	if rj.smtp != 0 {
		rec = rec.Add(attrSMTP, strconv.Itoa(rj.smtp))
	}
	return c.Send(ipc.FrameReply, rec) == nil
}

// submissionFrom builds a submission from a request record. Recipients come
// as "rcpt" attributes, either plain addresses (pickup) or
// envelope.RcptRecord values (cleanup).
func (m *Manager) submissionFrom(req ipc.Record, local bool) *submission {
	env := envelope.FromRecord(req)
	env.ID = ""
	env.Arrival = time.Time{} // a new message: its own arrival time
	for _, v := range req.All("rcpt") {
		env.Recipients = append(env.Recipients, envelope.ParseRcptRecord(v))
	}
	if n := req.Get("notify"); n != "" {
		for i := range env.Recipients {
			if env.Recipients[i].Notify == "" {
				env.Recipients[i].Notify = strings.ToUpper(n)
			}
		}
	}
	s := &submission{env: env, local: local, forward: req.Get(attrOrigin) == "forward", tls: req.Get("tls"),
		saslUser: req.Get("sasl_username"), saslHeader: req.Get("sasl_header") == "yes", prepend: req.All("prepend"),
		hold: req.Get("hold") == "yes", redirect: req.Get("redirect")}
	s.overrides = wordSet(req.All("override"))
	// Only address verification makes probes, never a submission; only
	// sendmail asks for a trace report (-bv, -v).
	env.Probe = false
	if !local || s.forward || !envelope.ValidTrace(env.Trace) {
		if env.Trace != "" && local {
			m.log.Warnf("submission with unknown report request %q: ignored", env.Trace)
		}
		env.Trace = ""
	}
	switch {
	case local:
		env.Protocol = "local"
		env.ClientName, env.ClientAddr, env.Helo, s.tls = "", "", "", ""
		s.prepend, s.hold, s.redirect = nil, false, "" // only smtpd's restrictions do these
		// sendmail's word counts for nothing here: main.cf decides.
		env.Filter = m.settings.contentFilter
		if env.Trace == envelope.TraceVerify {
			env.Filter = "" // sendmail -bv tests each recipient's own route
		}
		s.overrides = wordSet(m.settings.receiveOverrides)
	case req.Get(attrOrigin) == "notice":
		// The mail system's own notice: written locally (its Received
		// header says so), for the postmaster, not content filtered.
		s.local, s.notice = true, true
		env.Protocol, env.Filter = "local", ""
		env.SubmitUID = os.Geteuid()
		env.SubmitUser = userName(env.SubmitUID)
	case s.forward:
		env.Filter = "" // forwarded mail is not filtered again, as in Postfix
	}
	return s
}

// redirect replaces the recipients of env by addr, as a REDIRECT action
// asks: the message goes there once, for all of them.
func redirect(env *envelope.Envelope, addr string) {
	env.Recipients = []envelope.Recipient{{Address: addr, Original: addr}}
}

// routing returns milter_header_checks' FILTER and REDIRECT targets.
func (f *localFilter) routing() (filter, redirect string) {
	if f == nil {
		return "", ""
	}
	return f.filter, f.redirect
}

// routing returns the content checks' FILTER and REDIRECT targets.
func (in *inspection) routing() (filter, redirect string) {
	if in == nil {
		return "", ""
	}
	return in.filter, in.redirect
}

// applyCheckRouting applies the FILTER and REDIRECT actions of content
// checks (and milter_header_checks), which come after the envelope was
// rewritten: a redirect target is rewritten and expanded on its own.
func (m *Manager) applyCheckRouting(env *envelope.Envelope, s *submission, filter, redirectTo string) error {
	if filter != "" {
		env.Filter = filter
	}
	if redirectTo == "" {
		return nil
	}
	redirect(env, redirectTo)
	m.qualify(env)
	if m.rewriter == nil || s.overrides["no_address_mappings"] {
		return nil
	}
	addrs, err := m.rewriter.rw.ExpandRecipient(env.Recipients[0].Address)
	if err != nil {
		m.log.Warnf("%s: %v", env.ID, err)
		return rewriteRejection(err)
	}
	env.Recipients = env.Recipients[:0]
	for _, a := range addrs {
		env.Recipients = append(env.Recipients, envelope.Recipient{Address: a, Original: redirectTo})
	}
	return nil
}

// autodetectUTF8 reports whether smtputf8_autodetect_classes names the
// source of s: such mail asks for SMTPUTF8 when its envelope or header
// has UTF-8, as if the sender had asked (Postfix's cleanup).
func (set *settings) autodetectUTF8(s *submission) bool {
	class := "smtpd"
	switch {
	case s.forward:
		class = "forward"
	case s.notice:
		class = "notify"
	case s.local:
		class = "sendmail"
	}
	return set.autodetects(class)
}

// autodetects reports whether smtputf8_autodetect_classes names class
// (or all).
func (set *settings) autodetects(class string) bool {
	return set.utf8Autodetect[class] || set.utf8Autodetect["all"]
}

// envelopeASCII reports whether env's sender and recipients are ASCII.
func envelopeASCII(env *envelope.Envelope) bool {
	if message.Has8BitString(env.Sender) {
		return false
	}
	for _, r := range env.Recipients {
		if message.Has8BitString(r.Address) {
			return false
		}
	}
	return true
}

// wordSet is the set of the lower-cased words of a list parameter
// (receive_override_options, internal_mail_filter_classes).
func wordSet(words []string) map[string]bool {
	if len(words) == 0 {
		return nil // the usual case: no map for every message
	}
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[strings.ToLower(strings.TrimSpace(w))] = true
	}
	return set
}

// checkSubmitter applies authorized_submit_users to a local submission,
// as Postfix's sendmail does.
func (m *Manager) checkSubmitter(env *envelope.Envelope) error {
	ok, err := m.settings.submitACL.allows(env.SubmitUser)
	if err != nil {
		m.log.Warnf("authorized_submit_users: %v", err)
		return &rejection{code: exTempFail, dsn: "4.3.0", text: "authorized_submit_users: table lookup failure"}
	}
	if !ok {
		m.log.Warnf("User %s(%d) is not allowed to submit mail", env.SubmitUser, env.SubmitUID)
		return &rejection{code: exNoPerm, dsn: "5.7.1", text: fmt.Sprintf("User %s(%d) is not allowed to submit mail", env.SubmitUser, env.SubmitUID)}
	}
	return nil
}

// checkLoginSender applies local_login_sender_maps to a local
// submission's envelope sender, as Postfix's postdrop does.
func (m *Manager) checkLoginSender(env *envelope.Envelope) error {
	login := loginKey(env)
	ok, err := m.settings.loginSenders.allows(login, env.Sender)
	if err != nil {
		m.log.Warnf("local_login_sender_maps: %v", err)
		return &rejection{code: exTempFail, dsn: "4.3.0", text: "local_login_sender_maps: table lookup failure"}
	}
	if !ok {
		text := fmt.Sprintf("User %s(%d) is not allowed to use sender address <%s>", login, env.SubmitUID, env.Sender)
		m.log.Warnf("%s", text)
		return &rejection{code: exNoPerm, dsn: "5.7.1", text: text}
	}
	return nil
}

// setSubmitter records the local submitter and derives the default sender
// (login@myorigin) when sendmail was not given -f.
func (m *Manager) setSubmitter(s *submission, uid int, senderGiven bool) {
	s.env.SubmitUID = uid
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
		s.gecosName, _, _ = strings.Cut(u.Name, ",")
	}
	s.env.SubmitUser = name
	if !senderGiven {
		s.env.Sender = name
	}
}
