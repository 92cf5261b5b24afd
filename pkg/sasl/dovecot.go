package sasl

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Bounds on what the Dovecot client accepts.
const (
	dovecotMaxLine        = 16384 // longest line read (the protocol expects lines to fit)
	dovecotMaxLines       = 256   // lines read while waiting for one answer
	dovecotDefaultTimeout = 10 * time.Second
)

// Reasons sent to the client for Dovecot trouble (454 replies).
const (
	reasonConnect  = "cannot connect to authentication server"
	reasonLost     = "connection lost to authentication server"
	reasonTimeout  = "authentication server timeout"
	reasonProtocol = "authentication server protocol error"
)

// dovecotServer is a client of Dovecot's authentication service.
//
// Each call to Mechanisms and each exchange uses a connection of its own:
// it connects, does the handshake, and closes the connection when the
// exchange ends (or on Abort). That keeps concurrent exchanges apart
// without multiplexing one connection, at the cost of one handshake per
// AUTH command; Dovecot's auth service is built for many clients.
type dovecotServer struct {
	path    string
	timeout time.Duration
	ids     atomic.Uint32

	mu     sync.Mutex
	conns  map[*dovecotConn]struct{}
	closed bool
}

// NewDovecotServer returns a back end that asks the Dovecot auth service
// listening on the unix socket at path (Postfix's smtpd_sasl_type =
// dovecot, smtpd_sasl_path). timeout bounds each step of the conversation
// with Dovecot (connect, handshake, each answer); 0 means 10 seconds. A
// Dovecot that cannot be reached, or breaks the protocol, gives
// ErrTemporary.
func NewDovecotServer(path string, timeout time.Duration) Server {
	if timeout <= 0 {
		timeout = dovecotDefaultTimeout
	}
	return &dovecotServer{path: path, timeout: timeout, conns: map[*dovecotConn]struct{}{}}
}

// Mechanisms connects to Dovecot and returns the mechanisms it announces,
// with the properties of their flags, leaving out those flagged
// "private". Filtering on TLS and security options is left to smtpd.
func (s *dovecotServer) Mechanisms(ctx context.Context, secured bool) ([]Mechanism, error) {
	dc, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer dc.Close()
	var mechs []Mechanism
	for _, m := range dc.mechs {
		if _, private := m.flags["private"]; private {
			continue
		}
		var props Props
		for flag := range m.flags {
			props |= dovecotProps[flag]
		}
		mechs = append(mechs, Mechanism{Name: m.name, Props: props})
	}
	return mechs, nil
}

// Start connects to Dovecot, checks that it offers mech, and returns the
// exchange; the AUTH request goes out with the first call to Next.
func (s *dovecotServer) Start(ctx context.Context, mech string, initial []byte, info Info) (Exchange, error) {
	if !validMechName(mech) {
		return nil, newError(ErrUnsupportedMech, "", fmt.Errorf("mechanism %q", printable(mech, 32)))
	}
	dc, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	name := ""
	for _, m := range dc.mechs {
		if _, private := m.flags["private"]; !private && strings.EqualFold(m.name, mech) {
			name = m.name
			break
		}
	}
	if name == "" {
		dc.Close()
		return nil, newError(ErrUnsupportedMech, "", fmt.Errorf("dovecot does not offer %q", mech))
	}
	return &dovecotExchange{dc: dc, id: s.ids.Add(1), mech: name, info: info, initial: initial}, nil
}

// Close closes the connections of all exchanges still under way; later
// calls to Start and Mechanisms fail.
func (s *dovecotServer) Close() error {
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*dovecotConn]struct{}{}
	s.mu.Unlock()
	for dc := range conns {
		dc.Close()
	}
	return nil
}

// connect dials Dovecot and does the handshake.
func (s *dovecotServer) connect(ctx context.Context) (*dovecotConn, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, newError(ErrTemporary, reasonConnect, errors.New("dovecot client closed"))
	}
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(dctx, "unix", s.path)
	if err != nil {
		return nil, newError(ErrTemporary, reasonConnect, fmt.Errorf("connect to dovecot at %s: %w", s.path, err))
	}
	dc := &dovecotConn{srv: s, c: c, r: bufio.NewReaderSize(c, dovecotMaxLine), timeout: s.timeout}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return nil, newError(ErrTemporary, reasonConnect, errors.New("dovecot client closed"))
	}
	s.conns[dc] = struct{}{}
	s.mu.Unlock()
	if err := dc.handshake(ctx); err != nil {
		dc.Close()
		return nil, err
	}
	return dc, nil
}

// dovecotConn is one connection to Dovecot's auth service.
type dovecotConn struct {
	srv     *dovecotServer
	c       net.Conn
	r       *bufio.Reader
	timeout time.Duration
	mechs   []dovecotMech
	once    sync.Once
}

// Close closes the connection; it may be called more than once.
func (dc *dovecotConn) Close() error {
	var err error
	dc.once.Do(func() {
		err = dc.c.Close()
		dc.srv.mu.Lock()
		delete(dc.srv.conns, dc)
		dc.srv.mu.Unlock()
	})
	return err
}

// watch sets the deadline for one step and makes ctx's end interrupt it.
// The returned function must be called when the step is over.
func (dc *dovecotConn) watch(ctx context.Context) func() bool {
	deadline := time.Now().Add(dc.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dc.c.SetDeadline(deadline)
	return context.AfterFunc(ctx, func() { dc.c.SetDeadline(time.Unix(1, 0)) })
}

// ioError classifies a read or write failure as ErrTemporary.
func (dc *dovecotConn) ioError(ctx context.Context, op string, err error) error {
	var ne net.Error
	switch {
	case ctx.Err() != nil:
		return newError(ErrTemporary, reasonTimeout, fmt.Errorf("dovecot %s: %w", op, ctx.Err()))
	case errors.As(err, &ne) && ne.Timeout():
		return newError(ErrTemporary, reasonTimeout, fmt.Errorf("dovecot %s: %w", op, err))
	case errors.Is(err, bufio.ErrBufferFull):
		return newError(ErrTemporary, reasonProtocol, fmt.Errorf("dovecot %s: line longer than %d bytes", op, dovecotMaxLine))
	default:
		return newError(ErrTemporary, reasonLost, fmt.Errorf("dovecot %s: %w", op, err))
	}
}

// writeLine sends one line (the LF is added).
func (dc *dovecotConn) writeLine(ctx context.Context, line string) error {
	if _, err := io.WriteString(dc.c, line+"\n"); err != nil {
		return dc.ioError(ctx, "write", err)
	}
	return nil
}

// readLine reads and parses one line. A line that is not a protocol line
// is returned with an error wrapping errGarbage, for the caller to skip.
func (dc *dovecotConn) readLine(ctx context.Context) (dovecotLine, error) {
	raw, err := dc.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && len(raw) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return dovecotLine{}, dc.ioError(ctx, "read", err)
	}
	return parseDovecotLine(string(raw[:len(raw)-1]))
}

// handshake sends VERSION and CPID and reads the server's handshake up to
// DONE, collecting the MECH lines.
func (dc *dovecotConn) handshake(ctx context.Context) error {
	stop := dc.watch(ctx)
	defer stop()
	hello := fmt.Sprintf("VERSION\t%d\t%d\nCPID\t%d", dovecotMajor, dovecotMinor, os.Getpid())
	if err := dc.writeLine(ctx, hello); err != nil {
		return err
	}
	sawVersion := false
	for range dovecotMaxLines {
		l, err := dc.readLine(ctx)
		if errors.Is(err, errGarbage) {
			continue
		}
		if err != nil {
			return err
		}
		switch l.cmd {
		case "VERSION":
			if len(l.args) < 1 || l.args[0] != strconv.Itoa(dovecotMajor) {
				return newError(ErrTemporary, reasonProtocol,
					fmt.Errorf("dovecot at %s: unsupported protocol version %q", dc.srv.path, strings.Join(l.args, ".")))
			}
			sawVersion = true
		case "MECH":
			if m, ok := parseMech(l.args); ok {
				dc.mechs = append(dc.mechs, m)
			}
		case "DONE":
			if !sawVersion {
				return newError(ErrTemporary, reasonProtocol, fmt.Errorf("dovecot at %s: DONE before VERSION", dc.srv.path))
			}
			return nil
		}
	}
	return newError(ErrTemporary, reasonProtocol, fmt.Errorf("dovecot at %s: no DONE after %d lines", dc.srv.path, dovecotMaxLines))
}

// dovecotExchange is one AUTH request on its own connection.
type dovecotExchange struct {
	dc      *dovecotConn
	id      uint32
	mech    string
	info    Info
	initial []byte
	state   int // 0: AUTH not sent, 1: waiting for the client, 2: finished
}

// Next implements Exchange.
func (e *dovecotExchange) Next(ctx context.Context, response []byte) ([]byte, bool, string, error) {
	var line string
	switch e.state {
	case 0:
		if response == nil {
			response = e.initial
		}
		line = e.authLine(response)
	case 1:
		line = fmt.Sprintf("CONT\t%d\t%s", e.id, base64.StdEncoding.EncodeToString(response))
	default:
		return nil, false, "", errFinished
	}
	stop := e.dc.watch(ctx)
	defer stop()
	if err := e.dc.writeLine(ctx, line); err != nil {
		e.finish()
		return nil, false, "", err
	}
	challenge, done, user, err := e.readAnswer(ctx)
	if err != nil || done {
		e.finish()
	} else {
		e.state = 1
	}
	return challenge, done, user, err
}

// Close releases the connection (see Abort).
func (e *dovecotExchange) Close() error {
	e.state = 2
	return e.dc.Close()
}

// finish ends the exchange and closes its connection.
func (e *dovecotExchange) finish() {
	e.state = 2
	e.dc.Close()
}

// authLine builds the AUTH request as Postfix sends it: service, nologin
// (smtpd only wants the answer), the addresses, "secured" under TLS, and
// the initial response last.
func (e *dovecotExchange) authLine(initial []byte) string {
	service := e.info.Service
	if service == "" {
		service = "smtp"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "AUTH\t%d\t%s\tservice=%s\tnologin", e.id, e.mech, tabEscape(service))
	for _, a := range []struct{ ipKey, portKey, addr string }{
		{"lip", "lport", e.info.LocalAddr},
		{"rip", "rport", e.info.RemoteAddr},
	} {
		ip, port := splitAddr(a.addr)
		if ip != "" {
			fmt.Fprintf(&b, "\t%s=%s", a.ipKey, ip)
		}
		if port != "" {
			fmt.Fprintf(&b, "\t%s=%s", a.portKey, port)
		}
	}
	if e.info.Secured {
		b.WriteString("\tsecured")
	}
	if initial != nil {
		b.WriteString("\tresp=" + base64.StdEncoding.EncodeToString(initial))
	}
	return b.String()
}

// splitAddr splits "ip:port" (or a bare IP) into its parts; anything that
// is not an IP address gives "".
func splitAddr(addr string) (ip, port string) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		host, p = addr, ""
	}
	if net.ParseIP(host) == nil {
		return "", ""
	}
	if _, err := strconv.ParseUint(p, 10, 16); err != nil {
		p = ""
	}
	return host, p
}

// readAnswer waits for the CONT, OK or FAIL line of this request,
// skipping other lines.
func (e *dovecotExchange) readAnswer(ctx context.Context) ([]byte, bool, string, error) {
	id := strconv.FormatUint(uint64(e.id), 10)
	for range dovecotMaxLines {
		l, err := e.dc.readLine(ctx)
		if errors.Is(err, errGarbage) {
			continue
		}
		if err != nil {
			return nil, false, "", err
		}
		if len(l.args) == 0 || l.args[0] != id {
			continue
		}
		switch l.cmd {
		case "CONT":
			data := ""
			if len(l.args) > 1 {
				data = l.args[1]
			}
			challenge, err := base64.StdEncoding.DecodeString(data)
			if err != nil {
				return nil, false, "", newError(ErrTemporary, reasonProtocol, fmt.Errorf("dovecot CONT: %w", err))
			}
			return challenge, false, "", nil
		case "OK":
			p := dovecotParams(l.args[1:])
			if p["user"] == "" {
				return nil, false, "", newError(ErrTemporary, reasonProtocol, errors.New("dovecot OK without user name"))
			}
			return nil, true, p["user"], nil
		case "FAIL":
			return nil, false, "", failError(dovecotParams(l.args[1:]))
		}
	}
	return nil, false, "", newError(ErrTemporary, reasonProtocol, fmt.Errorf("dovecot: no answer in %d lines", dovecotMaxLines))
}

// failError turns the parameters of a FAIL line into an error: "temp"
// makes it temporary; "reason" is Dovecot's text for the client.
func failError(p map[string]string) error {
	cause := errors.New("dovecot FAIL")
	if u, ok := p["user"]; ok {
		cause = fmt.Errorf("dovecot FAIL for user %q", u)
	}
	if _, temp := p["temp"]; temp {
		return newError(ErrTemporary, p["reason"], cause)
	}
	return newError(ErrAuthFailed, p["reason"], cause)
}
