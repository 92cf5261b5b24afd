package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/tern-mta/tern/pkg/reply"
)

// Recipient is one envelope recipient with its DSN parameters (RFC 3461).
type Recipient struct {
	Addr   string
	Notify string // "SUCCESS,FAILURE", "NEVER" or "" (none)
	ORcpt  string // "rfc822;addr" as the queue keeps it (xtext decoded), or ""
}

// Message is one mail transaction.
type Message struct {
	Sender     string // "" is the null sender
	Recipients []Recipient
	Size       int64 // content size in bytes, for SIZE= (RFC 1870); 0 means unknown
	EightBit   bool  // the content has 8-bit data (BODY=8BITMIME, or downgrade)
	// SMTPUTF8 says the sender asked for SMTPUTF8 (RFC 6531). The client
	// passes it on when the server offers it. When the server does not,
	// the message fails only if it needs it: a non-ASCII envelope address
	// (needed even without the request) or UTF8Headers.
	SMTPUTF8    bool
	UTF8Headers bool   // the header has UTF-8 (Postfix's SMTPUTF8_FLAG_HEADER)
	Ret         string // RET= of RFC 3461: "FULL", "HDRS" or ""
	EnvID       string // ENVID= of RFC 3461 (xtext decoded), or ""
	// Body is the message with LF line ends, as tern's queue stores it;
	// the client converts to CRLF and dot-stuffs.
	Body io.Reader
	// Probe asks only whether the server takes the recipients: MAIL and
	// RCPT, then RSET instead of DATA (address verification). Each
	// result is the RCPT reply, positive ones included.
	Probe bool
	// XForward holds the XFORWARD attributes (NAME, ADDR, PORT, PROTO,
	// HELO, IDENT, SOURCE; "" for unavailable) sent before MAIL to a
	// server that offers XFORWARD; nil sends none.
	XForward map[string]string
}

// RcptResult is the outcome for one recipient: the server's reply to RCPT
// TO when it refused the recipient, to MAIL FROM or DATA when those
// failed, or to the end of data (SMTP: the single reply; LMTP: this
// recipient's own). A zero Reply means no answer: the caller defers the
// recipient. An empty Stage means the client made the reply up itself
// without asking the server (size limit, SMTPUTF8 missing).
type RcptResult struct {
	Reply Reply
	Stage string // StageRcpt, StageMail, StageData, StageDataDone or ""
}

// Answered reports whether the recipient got a reply.
func (r RcptResult) Answered() bool { return r.Reply.Code != 0 }

// Describe phrases a result as Postfix logs it after "status=...":
// "host mx[192.0.2.1] said: 550 5.1.1 ... (in reply to RCPT TO command)"
// for a refusal, the reply alone for a success or a local failure.
func (s *Session) Describe(r RcptResult) string {
	if r.Stage == "" || r.Reply.Positive() {
		return r.Reply.Text
	}
	return fmt.Sprintf("host %s said: %s (in reply to %s command)", s.peerName, r.Reply.Text, r.Stage)
}

// Send runs one mail transaction and returns one result per recipient, in
// order. It pipelines MAIL, RCPT and DATA when the server offers
// PIPELINING and goes in lock-step otherwise. A connection-level failure
// (I/O error, timeout, 421) returns an error; the results then hold what
// was answered before it. Other errors (reading the message before
// anything was sent) leave the session usable.
func (s *Session) Send(ctx context.Context, m Message) ([]RcptResult, error) {
	res := make([]RcptResult, len(m.Recipients))
	s.sends++
	if s.broken {
		return res, &Error{Peer: s.peerName, Stage: StageMail, Temporary: true, Status: statusConn, Err: net.ErrClosed}
	}
	if len(m.Recipients) == 0 {
		return res, nil
	}
	if r, ok := s.precheck(m); !ok {
		for i := range res {
			res[i] = RcptResult{Reply: r}
		}
		return res, nil
	}
	body := m.Body
	if body == nil {
		body = strings.NewReader("")
	}
	if m.EightBit && !s.Has("8BITMIME") && !s.opt.NoDowngrade {
		d, err := Downgrade(body)
		if err != nil {
			return res, fmt.Errorf("downgrade message for %s: %w", s.peerName, err)
		}
		body = d
	}
	stop := s.watch(ctx)
	defer stop()
	t := &txn{s: s, m: m, res: res, body: body}
	t.commands()
	if err := t.sendXforward(ctx); err != nil {
		return res, err
	}
	if m.Probe {
		return res, t.probe(ctx)
	}
	var err error
	if s.Has("PIPELINING") {
		err = t.pipelined(ctx)
	} else {
		err = t.lockstep(ctx)
	}
	return res, err
}

// precheck fails the whole message without talking to the server when it
// cannot go there: too big for the announced SIZE, or SMTPUTF8 needed but
// not offered.
func (s *Session) precheck(m Message) (Reply, bool) {
	if limit := sizeLimit(s.ext); limit > 0 && m.Size > limit {
		return localReply(reply.CodeExceededStorage, reply.StatusTooBig,
			"message size %d exceeds size limit %d of server %s", m.Size, limit, s.peerName), false
	}
	if needsUTF8(m) && !s.Has("SMTPUTF8") {
		return localReply(reply.CodeMailboxName, reply.StatusUTF8Needed,
			"SMTPUTF8 is required, but was not offered by host %s", s.peerName), false
	}
	if badChars(m.Sender) {
		return localReply(reply.CodeMailboxName, reply.StatusBadSenderSyntax,
			"bad sender address syntax: %q", m.Sender), false
	}
	return Reply{}, true
}

// needsUTF8 reports whether a message cannot go without SMTPUTF8.
func needsUTF8(m Message) bool {
	if m.SMTPUTF8 && m.UTF8Headers || !isASCII(m.Sender) {
		return true
	}
	for _, r := range m.Recipients {
		if !isASCII(r.Addr) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// badChars reports characters that would break the command line.
func badChars(s string) bool { return strings.ContainsAny(s, "\r\n\x00") }

// txn is one transaction in progress.
type txn struct {
	s    *Session
	m    Message
	res  []RcptResult
	body io.Reader
	mail string   // the MAIL FROM command
	rcpt []string // RCPT TO commands; "" for recipients refused locally
	ok   []int    // indexes of the recipients the server accepted
}

// commands builds MAIL FROM and RCPT TO with the parameters the server
// supports, and fails unsendable recipients locally.
func (t *txn) commands() {
	s, m := t.s, t.m
	var b strings.Builder
	fmt.Fprintf(&b, "MAIL FROM:<%s>", m.Sender)
	if s.Has("SIZE") && m.Size > 0 {
		fmt.Fprintf(&b, " SIZE=%d", m.Size)
	}
	if m.EightBit && s.Has("8BITMIME") {
		b.WriteString(" BODY=8BITMIME")
	}
	if (m.SMTPUTF8 || needsUTF8(m)) && s.Has("SMTPUTF8") {
		b.WriteString(" SMTPUTF8")
	}
	dsn := s.Has("DSN")
	if ret := strings.ToUpper(m.Ret); dsn && (ret == "FULL" || ret == "HDRS") {
		b.WriteString(" RET=" + ret)
	}
	if dsn && m.EnvID != "" {
		b.WriteString(" ENVID=" + xtext(m.EnvID))
	}
	t.mail = b.String()
	t.rcpt = make([]string, len(m.Recipients))
	for i, r := range m.Recipients {
		if badChars(r.Addr) {
			t.res[i] = RcptResult{Reply: localReply(reply.CodeMailboxName, reply.StatusBadRcptSyntax,
				"bad recipient address syntax: %q", r.Addr)}
			continue
		}
		c := "RCPT TO:<" + r.Addr + ">"
		if dsn && r.Notify != "" && !badChars(r.Notify) {
			c += " NOTIFY=" + strings.ToUpper(strings.ReplaceAll(r.Notify, " ", ""))
		}
		if dsn && r.ORcpt != "" {
			typ, addr, ok := strings.Cut(r.ORcpt, ";")
			if !ok {
				typ, addr = "rfc822", r.ORcpt
			}
			c += " ORCPT=" + xtext(strings.TrimSpace(typ)) + ";" + xtext(addr)
		}
		t.rcpt[i] = c
	}
}

// xtext encodes s as RFC 3461 section 4 xtext: '+', '=' and bytes
// outside '!'..'~' become "+HH".
func xtext(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '!' || c > '~' || c == '+' || c == '=' {
			fmt.Fprintf(&b, "+%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mailFrom sends MAIL FROM in lock-step. goOn is false when the
// transaction ends there: the error is then the one to return (nil after
// a refusal that failed every recipient and was followed by RSET).
func (t *txn) mailFrom(ctx context.Context) (goOn bool, err error) {
	s := t.s
	r, err := s.cmd(ctx, StageMail, s.to.Mail, t.mail)
	if err != nil {
		return false, err
	}
	if r.Code == 421 {
		return false, s.replyError(StageMail, r.Reply)
	}
	if !r.Positive() {
		t.failAll(r.Reply, StageMail)
		return false, s.rset(ctx)
	}
	return true, nil
}

// lockstep sends each command and waits for its reply.
func (t *txn) lockstep(ctx context.Context) error {
	s := t.s
	if goOn, err := t.mailFrom(ctx); !goOn {
		return err
	}
	if err := t.rcptLockstep(ctx, t.rcptReply); err != nil {
		return err
	}
	if len(t.ok) == 0 {
		return s.rset(ctx)
	}
	r, err := s.cmd(ctx, StageData, s.to.Data, "DATA")
	if err != nil {
		return err
	}
	return t.dataReply(ctx, r)
}

// pipelined sends MAIL, every RCPT and DATA in one write (RFC 2920) and
// then reads the replies in order. The write runs beside the reads so
// that a server answering early cannot stall a long batch.
func (t *txn) pipelined(ctx context.Context) error {
	s := t.s
	var batch bytes.Buffer
	batch.WriteString(t.mail + "\r\n")
	for _, c := range t.rcpt {
		if c != "" {
			batch.WriteString(c + "\r\n")
		}
	}
	batch.WriteString("DATA\r\n")
	if s.opt.Trace != nil {
		for _, l := range strings.Split(strings.TrimSuffix(batch.String(), "\r\n"), "\r\n") {
			s.trace('>', l)
		}
	}
	if err := s.arm(ctx, s.to.Mail); err != nil {
		s.shutdown()
		return s.ioError(ctx, StageMail, err)
	}
	conn := s.conn
	werr := make(chan error, 1)
	go func() {
		_, err := conn.Write(batch.Bytes())
		werr <- err
	}()
	err := t.pipelinedReplies(ctx)
	if err != nil {
		s.shutdown() // unblocks the writer if it is still stuck
		<-werr
		return err
	}
	if err := <-werr; err != nil {
		s.shutdown()
		return s.ioError(ctx, StageMail, err)
	}
	return nil
}

// pipelinedReplies reads the replies to a pipelined batch and goes on
// with the content or RSET.
func (t *txn) pipelinedReplies(ctx context.Context) error {
	s := t.s
	mail, err := s.readArmed(ctx, StageMail)
	if err != nil {
		return err
	}
	if mail.Code == 421 {
		return s.replyError(StageMail, mail.Reply)
	}
	for i, c := range t.rcpt {
		if c == "" {
			continue
		}
		r, err := s.read(ctx, StageRcpt, s.to.Rcpt)
		if err != nil {
			return err
		}
		if !mail.Positive() {
			if r.Code == 421 {
				return s.replyError(StageRcpt, r.Reply)
			}
			continue // RCPT after a refused MAIL: the MAIL reply counts
		}
		if err := t.rcptReply(i, r); err != nil {
			return err
		}
	}
	data, err := s.read(ctx, StageData, s.to.Data)
	if err != nil {
		return err
	}
	if !mail.Positive() {
		t.failAll(mail.Reply, StageMail)
		return t.abortData(ctx, data)
	}
	if len(t.ok) == 0 {
		return t.abortData(ctx, data)
	}
	return t.dataReply(ctx, data)
}

// abortData ends a transaction that has no recipient: a server that
// nevertheless said 354 gets an empty message, then RSET.
func (t *txn) abortData(ctx context.Context, data response) error {
	s := t.s
	if data.Code == 421 {
		return s.replyError(StageData, data.Reply)
	}
	if data.Code/100 == 3 {
		if _, err := s.cmd(ctx, StageDataDone, s.to.DataDone, "."); err != nil {
			return err
		}
		if s.broken {
			return &Error{Peer: s.peerName, Stage: StageDataDone, Temporary: true, Status: statusConn, Err: net.ErrClosed}
		}
	}
	return s.rset(ctx)
}

// rcptReply records the reply to recipient i's RCPT TO.
func (t *txn) rcptReply(i int, r response) error {
	if r.Code == 421 {
		return t.s.replyError(StageRcpt, r.Reply)
	}
	if r.Positive() {
		t.ok = append(t.ok, i)
		return nil
	}
	t.res[i] = RcptResult{Reply: r.Reply, Stage: StageRcpt}
	return nil
}

// rcptLockstep sends each RCPT in turn and hands its reply to each, which
// may end the loop with an error.
func (t *txn) rcptLockstep(ctx context.Context, each func(i int, r response) error) error {
	for i, c := range t.rcpt {
		if c == "" {
			continue
		}
		r, err := t.s.cmd(ctx, StageRcpt, t.s.to.Rcpt, c)
		if err != nil {
			return err
		}
		if err := each(i, r); err != nil {
			return err
		}
	}
	return nil
}

// failAll gives every recipient not yet answered the same reply.
func (t *txn) failAll(r Reply, stage string) {
	for i := range t.res {
		if !t.res[i].Answered() {
			t.res[i] = RcptResult{Reply: r, Stage: stage}
		}
	}
}

// dataReply handles the reply to DATA: on 354 the content follows.
func (t *txn) dataReply(ctx context.Context, r response) error {
	s := t.s
	if r.Code == 421 {
		return s.replyError(StageData, r.Reply)
	}
	if r.Code/100 != 3 {
		for _, i := range t.ok {
			t.res[i] = RcptResult{Reply: r.Reply, Stage: StageData}
		}
		return s.rset(ctx)
	}
	return t.content(ctx)
}

// content sends the message and reads the reply (SMTP) or the replies
// (LMTP, one per accepted recipient) to the final dot.
func (t *txn) content(ctx context.Context) error {
	s := t.s
	br, w := s.contentBuffers(ctx, t.body)
	err := writeContent(w, br, s.lineLimit())
	if err == nil {
		w.WriteString(".\r\n")
		err = w.Flush()
		s.trace('>', ".")
	}
	s.releaseContent()
	if err != nil {
		s.shutdown() // without the final dot the server drops the message
		return s.ioError(ctx, StageBody, err)
	}
	if err := s.arm(ctx, s.to.DataDone); err != nil {
		s.shutdown()
		return s.ioError(ctx, StageDataDone, err)
	}
	n := 1
	if s.opt.LMTP {
		n = len(t.ok)
	}
	for k := 0; k < n; k++ {
		r, err := s.readArmed(ctx, StageDataDone)
		if err != nil {
			return err
		}
		res := RcptResult{Reply: r.Reply, Stage: StageDataDone}
		if s.opt.LMTP {
			t.res[t.ok[k]] = res
		} else {
			for _, i := range t.ok {
				t.res[i] = res
			}
		}
		if r.Code == 421 {
			return s.replyError(StageDataDone, r.Reply)
		}
	}
	return nil
}
