package smtpd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/message"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/pkg/tlsconf"
	smtpclient "github.com/tern-mta/tern/smtp/client"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// smtpd_proxy_filter (Postfix's SMTPD_PROXY_README): a before-queue
// content filter. smtpd keeps its own checks, but instead of queueing it
// passes each transaction on to the filter over SMTP as it happens: MAIL
// once smtpd accepts it, each RCPT smtpd accepts, DATA and the content
// (with smtpd's Received header on top). The client gets the filter's
// refusals as they come and the filter's reply to the end of the message,
// so the filter can refuse mail before anything is queued. The filter
// hands what it accepts to another smtpd (in Postfix's example a
// master.cf entry on 127.0.0.1:10026), which queues it.

// replyProxyError is the client's reply whenever the filter cannot be
// reached or breaks the conversation: as Postfix, tern does not show
// strangers the details, which go to the log.
var replyProxyError = reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")

// proxyTarget is where smtpd_proxy_filter points.
type proxyTarget struct {
	network, addr string // "tcp" host:port or "unix" path
}

// parseProxyFilter reads smtpd_proxy_filter: host:port, inet:host:port or
// unix:pathname (relative to the queue directory unless absolute). A
// missing host is localhost, as in Postfix.
func parseProxyFilter(v, queueDir string) (*proxyTarget, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	if path, ok := strings.CutPrefix(v, "unix:"); ok {
		if path == "" {
			return nil, fmt.Errorf("smtpd_proxy_filter %q: no socket path", v)
		}
		if !filepath.IsAbs(path) {
			path = filepath.Join(queueDir, path)
		}
		return &proxyTarget{network: "unix", addr: path}, nil
	}
	v = strings.TrimPrefix(v, "inet:")
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		host, port = "", v // a bare port
	}
	if host == "" {
		host = "localhost"
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		if _, err := net.LookupPort("tcp", port); err != nil {
			return nil, fmt.Errorf("smtpd_proxy_filter %q: need host:port, inet:host:port or unix:path", v)
		}
	}
	return &proxyTarget{network: "tcp", addr: net.JoinHostPort(host, port)}, nil
}

// proxyConn is the conversation with the filter for one transaction.
type proxyConn struct {
	conn    net.Conn
	tp      *textproto.Conn
	timeout time.Duration
	ext     map[string]string // the filter's EHLO keywords
	where   string            // the filter, for logs
	// inData is set between the filter's 354 and the final dot: a QUIT
	// then would be content, so closing only drops the connection, and
	// the filter discards the unfinished message.
	inData bool
	closed bool
}

// openProxy connects to the filter, says EHLO, passes the client's
// attributes on with XFORWARD when the filter offers it, and sends the
// client's MAIL command. It returns the connection, or the reply to give
// the client: the filter's refusal of MAIL, or replyProxyError.
func (s *session) openProxy(ctx context.Context, mailCmd string) (*proxyConn, reply.Reply) {
	t, set := s.srv.set.proxy, &s.srv.set
	d := net.Dialer{Timeout: set.filterTimeout}
	conn, err := d.DialContext(ctx, t.network, t.addr)
	if err != nil {
		s.srv.log.Warnf("connect to proxy filter %s: %v", t.addr, err)
		return nil, replyProxyError
	}
	p := &proxyConn{conn: conn, tp: textproto.NewConn(conn), timeout: set.filterTimeout, where: t.addr}
	if r, err := p.start(set.proxyEhlo, s.proxyXforward()); err != nil {
		s.srv.log.Warnf("proxy filter %s: %v", t.addr, err)
		p.close()
		return nil, replyProxyError
	} else if !r.IsZero() {
		s.srv.log.Warnf("proxy filter %s refused the session: %s", t.addr, r)
		p.close()
		return nil, replyProxyError
	}
	r, err := p.cmd(mailCmd)
	if err != nil {
		s.srv.log.Warnf("proxy filter %s: %v", t.addr, err)
		p.close()
		return nil, replyProxyError
	}
	if !r.Positive() {
		p.close()
		return nil, r
	}
	return p, reply.Reply{}
}

// start reads the greeting, says EHLO and sends XFORWARD; a reply when
// the filter refuses one of them.
func (p *proxyConn) start(ehlo string, xforward map[string]string) (reply.Reply, error) {
	_ = p.conn.SetDeadline(time.Now().Add(p.timeout))
	code, msg, err := p.tp.ReadResponse(0)
	if err != nil {
		return reply.Reply{}, fmt.Errorf("greeting: %w", err)
	}
	if code != reply.CodeReady {
		return toReply(code, msg), nil
	}
	r, lines, err := p.exchange("EHLO " + ehlo)
	if err != nil || !r.Positive() {
		return r, err
	}
	p.ext = map[string]string{}
	for _, l := range lines[1:] {
		kw, params, _ := strings.Cut(l, " ")
		p.ext[strings.ToUpper(kw)] = params
	}
	announced, ok := p.ext["XFORWARD"]
	if !ok {
		return reply.Reply{}, nil
	}
	for _, c := range smtpclient.XforwardCommands(announced, xforward) {
		if r, err := p.cmd(c); err != nil || !r.Positive() {
			return r, err
		}
	}
	return reply.Reply{}, nil
}

// proxyXforward is what XFORWARD tells the filter about the client.
func (s *session) proxyXforward() map[string]string {
	name, addr, helo, proto := s.origin()
	port := strconv.Itoa(s.client.port)
	if s.fwd != nil {
		port = s.fwd.port
	}
	return map[string]string{"NAME": name, "ADDR": addr, "PORT": port, "PROTO": proto, "HELO": helo, "SOURCE": "REMOTE"}
}

// cmd sends one command and reads the filter's reply.
func (p *proxyConn) cmd(line string) (reply.Reply, error) {
	r, _, err := p.exchange(line)
	return r, err
}

func (p *proxyConn) exchange(line string) (reply.Reply, []string, error) {
	_ = p.conn.SetDeadline(time.Now().Add(p.timeout))
	if err := p.tp.PrintfLine("%s", line); err != nil {
		return reply.Reply{}, nil, fmt.Errorf("send %s: %w", verbOf(line), err)
	}
	code, msg, err := p.tp.ReadResponse(0)
	var protoErr *textproto.Error
	if err != nil && !errors.As(err, &protoErr) {
		return reply.Reply{}, nil, fmt.Errorf("reply to %s: %w", verbOf(line), err)
	}
	return toReply(code, msg), strings.Split(msg, "\n"), nil
}

func verbOf(line string) string {
	verb, _, _ := strings.Cut(line, " ")
	return verb
}

// toReply turns a reply of the filter into one for the client, keeping
// its enhanced status code when it has one of the reply's class.
func toReply(code int, msg string) reply.Reply {
	lines := strings.Split(msg, "\n")
	enhanced := ""
	if f, _, _ := strings.Cut(lines[0], " "); reply.IsEnhanced(f) && f[0] == byte('0'+code/100) {
		enhanced = f
		for i, l := range lines {
			if rest, ok := strings.CutPrefix(l, f); ok {
				lines[i] = strings.TrimPrefix(rest, " ")
			}
		}
	}
	return reply.Reply{Code: code, Enhanced: enhanced, Text: strings.Join(lines, "\n")}
}

// close ends the conversation: QUIT, briefly waited for, then the close;
// in the middle of the content only the close. A second close does
// nothing.
func (p *proxyConn) close() {
	if p.closed {
		return
	}
	p.closed = true
	if !p.inData {
		_ = p.conn.SetDeadline(time.Now().Add(time.Second))
		if p.tp.PrintfLine("QUIT") == nil {
			_, _, _ = p.tp.ReadResponse(0)
		}
	}
	_ = p.conn.Close()
}

// proxyWriter sends the content to the filter: LF line ends become CRLF
// and a leading dot is doubled (RFC 5321 section 4.5.2). The first write
// error sticks.
type proxyWriter struct {
	p       *proxyConn
	w       *textproto.Writer
	atStart bool
	err     error
	// crlf: the lines written end in CRLF already (a spooled message).
	crlf bool
}

func newProxyWriter(p *proxyConn) *proxyWriter {
	return &proxyWriter{p: p, w: &p.tp.Writer, atStart: true}
}

// Write implements io.Writer for readData's normalised content.
func (pw *proxyWriter) Write(b []byte) (int, error) {
	n := len(b)
	if pw.err != nil {
		return n, nil
	}
	_ = pw.p.conn.SetDeadline(time.Now().Add(pw.p.timeout))
	for len(b) > 0 && pw.err == nil {
		if pw.atStart && b[0] == '.' {
			pw.err = pw.w.W.WriteByte('.')
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			_, pw.err = pw.w.W.Write(b)
			pw.atStart = false
			break
		}
		if pw.crlf {
			_, pw.err = pw.w.W.Write(b[:i+1])
		} else if _, pw.err = pw.w.W.Write(b[:i]); pw.err == nil {
			_, pw.err = pw.w.W.WriteString("\r\n")
		}
		b = b[i+1:]
		pw.atStart = true
	}
	return n, nil
}

// end finishes the content with the final dot and returns the filter's
// reply to it.
func (pw *proxyWriter) end() (reply.Reply, error) {
	if pw.err == nil && !pw.atStart {
		_, pw.err = pw.w.W.WriteString("\r\n")
	}
	if pw.err != nil {
		return reply.Reply{}, fmt.Errorf("send content: %w", pw.err)
	}
	r, err := pw.p.cmd(".")
	if err == nil {
		pw.p.inData = false
	}
	return r, err
}

// proxyData sends DATA to the filter and, once it answers 354, returns
// the submission that passes the content on, the Received header (and
// the PREPEND actions' headers) first, as Postfix's smtpd writes them in
// proxy mode, where no cleanup adds them.
func (s *session) proxyData() (*queueSubmission, reply.Reply) {
	pw, r := s.proxyContent()
	if !r.IsZero() {
		return nil, r
	}
	return &queueSubmission{proxy: pw}, reply.Reply{}
}

// proxyContent sends DATA to the filter of the transaction and, once it
// answers 354, writes the headers smtpd adds and returns the writer of
// the rest; or the reply to give.
func (s *session) proxyContent() (*proxyWriter, reply.Reply) {
	p := s.tx.proxy
	r, err := p.cmd("DATA")
	if err != nil {
		s.srv.log.Warnf("proxy filter %s: %v", p.where, err)
		return nil, replyProxyError
	}
	if r.Code != reply.CodeStartData {
		s.logWhatsup("proxy-reject", restrict.Data, "", r.String())
		return nil, r
	}
	if s.tx.hold || s.tx.filter != "" || s.tx.redirect != "" {
		s.srv.log.Warnf("%s: HOLD, FILTER and REDIRECT actions are not applied with smtpd_proxy_filter: the filter's own smtpd queues the mail", s.client)
	}
	p.inData = true
	pw := newProxyWriter(p)
	var head strings.Builder
	for _, h := range s.tx.prepend {
		head.WriteString(h + "\n")
	}
	head.WriteString(s.proxyReceived() + "\n")
	_, _ = pw.Write([]byte(head.String()))
	return pw, reply.Reply{}
}

// proxyReceived is smtpd's Received header in proxy mode: as cleanup
// writes it, without a queue id, which only the filter's smtpd assigns.
func (s *session) proxyReceived() string {
	name, addr, helo, proto := s.origin()
	opt := message.CleanupOptions{MyHostname: s.srv.set.hostname, MailName: "tern", Now: time.Now(),
		ClientName: name, ClientAddr: addr, Helo: helo, Protocol: proto, AuthenticatedSender: s.receivedAuth()}
	if s.tls != nil && s.srv.set.tlsReceived {
		opt.TLS = tlsconf.Summary(s.tls)
	}
	if len(s.tx.rcpts) == 1 {
		opt.Recipient = s.tx.rcpts[0].Address
	}
	return message.ReceivedSMTP(&opt)
}

// receivedAuth is the login the Received header names, with
// smtpd_sasl_authenticated_header.
func (s *session) receivedAuth() string {
	if s.srv.set.saslHeader {
		return s.authUser
	}
	return ""
}

// proxyEnd ends the content and gives the client the filter's reply, as
// Postfix logs it: "NOQUEUE: proxy-accept: END-OF-MESSAGE: 250 ...".
func (s *session) proxyEnd(pw *proxyWriter) reply.Reply {
	r, err := pw.end()
	if err != nil {
		s.srv.log.Warnf("proxy filter %s: %v", pw.p.where, err)
		return replyProxyError
	}
	what := "proxy-accept"
	if !r.Positive() {
		what = "proxy-reject"
	}
	s.logWhatsup(what, restrict.EndOfData, "", r.String())
	return r
}
