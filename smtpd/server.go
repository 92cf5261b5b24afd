// Package smtpd is tern's SMTP server, smtpd(8): it speaks RFC 5321 ESMTP
// on the inet services master.cf gives it (smtp on 25, submission on 587,
// smtps on 465), applies Postfix's access restrictions, and hands each
// accepted message to qmgr's cleanup service, replying 250 only after qmgr
// has made it durable.
package smtpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/netlist"
	"github.com/tern-mta/tern/pkg/proxyproto"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/pkg/sasl"
	"github.com/tern-mta/tern/smtpd/restrict"
	"github.com/tern-mta/tern/smtpd/screen"
)

// Server serves SMTP sessions on listeners.
type Server struct {
	set       settings
	log       *maillog.Logger
	checker   *restrict.Checker
	sasl      sasl.Server    // nil: AUTH not offered
	tlsConfig *tls.Config    // nil: no STARTTLS, no wrapper mode
	maxConns  int            // master.cf maxproc; 0 = unlimited
	slots     chan struct{}  // one per session in progress, maxConns of them
	slotsOnce sync.Once      // makes slots
	stress    *stressMonitor // chooses each session's limits
	screen    *screen.Screen // postscreen's tests; nil: none
	anvil     *anvil
	cleanup   cleanupPool
	// contentReaders are the large readers sessions take for content.
	contentReaders contentReaders
	policy         *policyClient   // check_policy_service
	verify         *verifyClient   // reject_unverified_*
	milters        []*milters.Conf // smtpd_milters
	// milterChecks is milter_header_checks; nil: none.
	milterChecks *milters.HeaderChecks
	// milterMaps is smtpd_milter_maps: per client address, DISABLE or a
	// milter list, opened by openMilters and kept in milterLists.
	milterMaps  []maps.Map
	openMilters func(value string) ([]*milters.Conf, error)
	milterMu    sync.Mutex
	milterLists map[string][]*milters.Conf
	// mechanisms caches the SASL mechanisms to announce.
	mechanisms mechanismCache
	// lookupName finds a client's verified name; nil means "unknown".
	lookupName func(ctx context.Context, a netip.Addr) string
	wg         sync.WaitGroup
}

// Serve accepts sessions on l until ctx ends. At most maxConns sessions
// run at once (master.cf maxproc), on all of the service's listeners
// together; further clients wait in the listen queue, as with Postfix's
// process limit, and the service is stressed (stress.go). With
// postscreen's tests (screen), each client is tested first and then
// waits for a slot.
func (srv *Server) Serve(ctx context.Context, l net.Listener) error {
	slots := srv.sessionSlots()
	go func() {
		<-ctx.Done()
		_ = l.Close()
	}()
	for {
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				srv.wg.Wait()
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		if srv.screen != nil {
			srv.wg.Add(1)
			go func() {
				defer srv.wg.Done()
				srv.screenAndHandle(ctx, conn, slots, l.Addr().String())
			}()
			continue
		}
		if !srv.takeSlot(ctx, slots, l.Addr().String()) {
			_ = conn.Close()
			srv.wg.Wait()
			return nil
		}
		srv.wg.Add(1)
		go func() {
			defer srv.wg.Done()
			srv.handle(ctx, conn)
			if slots != nil {
				<-slots
			}
		}()
	}
}

// screenAndHandle runs postscreen's tests on a client accepted on addr,
// before it takes a session slot: clients under test do not hold smtpd's
// process limit. A client let through then waits for a slot, as Postfix's
// postscreen waits for a free smtpd process.
func (srv *Server) screenAndHandle(ctx context.Context, conn net.Conn, slots chan struct{}, addr string) {
	c, ok := srv.clientFor(conn)
	if !ok {
		_ = conn.Close()
		return
	}
	v, ok := srv.screened(ctx, conn, c)
	if !ok {
		_ = conn.Close()
		return
	}
	done := srv.screen.Waiting()
	ok = srv.takeSlot(ctx, slots, addr)
	done()
	if !ok {
		_ = conn.Close()
		return
	}
	srv.serveClient(ctx, conn, c, v)
	if slots != nil {
		<-slots
	}
}

// screened runs the tests on client c of conn; ok is false when the
// client is not to be served (dropped, gone, or a panic in the tests,
// which ends only this client's turn, as in handle).
func (srv *Server) screened(ctx context.Context, conn net.Conn, c client) (v screen.Verdict, ok bool) {
	defer func() {
		if r := recover(); r != nil {
			srv.log.Errorf("panic in the postscreen tests of %s: %v; %s", c, r, stackLine(debug.Stack()))
			ok = false
		}
	}()
	server, _ := netip.ParseAddrPort(conn.LocalAddr().String())
	v = srv.screen.Check(ctx, screen.Client{Conn: conn, Addr: netip.AddrPortFrom(c.addr, uint16(c.port)), Server: server},
		srv.stress.limits().greetWait)
	return v, !v.Closed
}

// takeSlot waits for a session slot for a client accepted on addr (it is
// not greeted meanwhile); false when ctx ends first. The session that
// takes the last slot stresses the service.
func (srv *Server) takeSlot(ctx context.Context, slots chan struct{}, addr string) bool {
	if slots == nil {
		return true
	}
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	if len(slots) == cap(slots) {
		srv.stress.full(cap(slots), addr)
	}
	return true
}

// sessionSlots returns the channel that bounds the sessions in progress,
// nil when they are unlimited.
func (srv *Server) sessionSlots() chan struct{} {
	srv.slotsOnce.Do(func() {
		if srv.maxConns > 0 {
			srv.slots = make(chan struct{}, srv.maxConns)
		}
	})
	return srv.slots
}

// handle runs one session and closes its connection. A panic ends only
// this session: one process serves every client, and a bug that one
// client triggers must not take the others down with it (nor, through
// the master's throttling of a crashing daemon, the service); what the
// client sent is not acknowledged, so it sends it again.
func (srv *Server) handle(ctx context.Context, conn net.Conn) {
	c, ok := srv.clientFor(conn)
	if !ok {
		_ = conn.Close()
		return
	}
	srv.serveClient(ctx, conn, c, screen.Verdict{})
}

// clientFor is the client of conn: the connection's peer, or the one its
// PROXY header names. ok is false when the header is bad.
func (srv *Server) clientFor(conn net.Conn) (client, bool) {
	c := clientOf(conn)
	if srv.set.proxyProtocol {
		return srv.proxiedClient(conn, c)
	}
	return c, true
}

// serveClient runs the session with client c and closes its connection;
// v is what postscreen's tests decided, if they ran.
func (srv *Server) serveClient(ctx context.Context, conn net.Conn, c client, v screen.Verdict) {
	defer conn.Close()
	defer func() {
		if r := recover(); r != nil {
			srv.log.Errorf("panic in the session with %s: %v; %s", c, r, stackLine(debug.Stack()))
		}
	}()
	if srv.lookupName != nil && c.addr.IsValid() {
		c.name = srv.lookupName(ctx, c.addr)
	}
	c.logPort = srv.set.clientPortLogging
	lim := srv.stress.limits()
	ctx = sessionContext(ctx, lim)
	if srv.set.wrapperMode {
		tc := tls.Server(conn, srv.tlsConfig)
		_ = tc.SetDeadline(deadlineFrom(lim.starttlsTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			srv.log.Infof("connect from %s", c)
			srv.log.Warnf("TLS library problem: %v", err)
			srv.log.Infof("lost connection after CONNECT from %s", c)
			return
		}
		conn = tc
	}
	release := srv.anvil.connect(c.addr)
	defer release()
	s := newSession(srv, conn, c, lim)
	s.src.carry = v.Early
	s.screenReject = v.Enforce
	s.deep = v.Deep
	defer s.deep.End()
	s.serve(ctx)
}

// proxiedClient reads the PROXY header an upstream proxy (HAProxy, a load
// balancer) sends first, and returns the client it names; a LOCAL header
// (the proxy's own health check) keeps the connection's. ok is false
// when the header is missing or malformed: the connection is dropped
// with a warning, as in Postfix.
func (srv *Server) proxiedClient(conn net.Conn, c client) (client, bool) {
	_ = conn.SetReadDeadline(deadlineFrom(srv.set.proxyTimeout))
	h, err := proxyproto.Read(conn)
	_ = conn.SetReadDeadline(time.Time{})
	if err != nil {
		srv.log.Warnf("haproxy read: %v from %s", err, c)
		return c, false
	}
	if h.Local {
		return c, true
	}
	return client{name: "unknown", addr: h.Source.Addr().Unmap(), port: int(h.Source.Port())}, true
}

// clientOf is the client at the other end of conn. A unix-domain peer
// (a before-queue filter handing mail back on a master.cf unix entry) is
// localhost[127.0.0.1], as in Postfix, so that mynetworks and
// smtpd_authorized_xforward_hosts can name it.
func clientOf(conn net.Conn) client {
	c := client{name: "unknown"}
	if _, ok := conn.LocalAddr().(*net.UnixAddr); ok {
		return client{name: "localhost", addr: netip.AddrFrom4([4]byte{127, 0, 0, 1})}
	}
	if ap, err := netip.ParseAddrPort(conn.RemoteAddr().String()); err == nil {
		c.addr, c.port = ap.Addr().Unmap(), int(ap.Port())
	}
	return c
}

func deadlineFrom(d time.Duration) time.Time {
	if d <= 0 {
		d = 300 * time.Second
	}
	return time.Now().Add(d)
}

// exempt reports whether a client is in an exception list. A table that
// can't be searched exempts nobody: the limit or check applies, and the
// failure is logged.
func (srv *Server) exempt(l *netlist.List, a netip.Addr) bool {
	ok, err := l.Match(a)
	if err != nil {
		srv.log.Warnf("%v", err)
	}
	return ok
}

// checkConnect applies the per-client connection count and rate limits.
func (srv *Server) checkConnect(s *session) reply.Reply {
	a := s.client.addr
	if srv.exempt(srv.set.limitExempt, a) {
		return reply.Reply{}
	}
	count, rate := srv.anvil.status(a)
	if lim := srv.set.connCountLimit; lim > 0 && count > lim {
		srv.log.Warnf("Connection concurrency limit exceeded: %d from %s for service %s", count, s.client, "smtp")
		return reply.New(reply.CodeUnavailable, reply.StatusTempPolicy, "%s Error: too many connections from %s", srv.set.hostname, a)
	}
	if lim := srv.set.connRateLimit; lim > 0 && rate > lim {
		srv.log.Warnf("Connection rate limit exceeded: %d from %s for service %s", rate, s.client, "smtp")
		return reply.New(reply.CodeUnavailable, reply.StatusTempPolicy, "%s Error: too many connections from %s", srv.set.hostname, a)
	}
	return reply.Reply{}
}

// checkMessageRate applies smtpd_client_message_rate_limit at MAIL.
func (srv *Server) checkMessageRate(s *session) reply.Reply {
	if n, over := srv.overRate(s, eventMail, srv.set.msgRateLimit); over {
		srv.log.Warnf("Message delivery request rate limit exceeded: %d from %s for service smtp", n, s.client)
		return reply.New(reply.CodeInsufficient, "4.3.2", "Error: too much mail from %s", s.client.addr)
	}
	return reply.Reply{}
}

// checkRecipientRate applies smtpd_client_recipient_rate_limit at RCPT.
func (srv *Server) checkRecipientRate(s *session) reply.Reply {
	if n, over := srv.overRate(s, eventRcpt, srv.set.rcptRateLimit); over {
		srv.log.Warnf("Recipient address rate limit exceeded: %d from %s for service smtp", n, s.client)
		return reply.New(reply.CodeMailboxBusy, reply.StatusTempRelayDenied, "Error: too many recipients from %s", s.client.addr)
	}
	return reply.Reply{}
}

// checkAuthRate applies smtpd_client_auth_rate_limit at AUTH.
func (srv *Server) checkAuthRate(s *session) reply.Reply {
	if n, over := srv.overRate(s, eventAuth, srv.set.authRateLimit); over {
		srv.log.Warnf("AUTH command rate limit exceeded: %d from %s for service smtp", n, s.client)
		return reply.New(reply.CodeMailboxBusy, reply.StatusTempRelayDenied, "Error: too many AUTH commands from %s", s.client.addr)
	}
	return reply.Reply{}
}

// checkTLSRate applies smtpd_client_new_tls_session_rate_limit at
// STARTTLS; the session then ends, as in Postfix.
func (srv *Server) checkTLSRate(s *session) reply.Reply {
	if n, over := srv.overRate(s, eventTLS, srv.set.tlsRateLimit); over {
		srv.log.Warnf("New TLS session rate limit exceeded: %d from %s for service smtp", n, s.client)
		return reply.New(reply.CodeUnavailable, reply.StatusTempPolicy, "%s Error: too many new TLS sessions from %s", srv.set.hostname, s.client.addr)
	}
	return reply.Reply{}
}

// overRate counts one event of the client and reports the count in the
// current window and whether it passes limit (0: no limit; clients of
// smtpd_client_event_limit_exceptions are not counted).
func (srv *Server) overRate(s *session, e event, limit int) (int, bool) {
	if limit <= 0 || srv.exempt(srv.set.limitExempt, s.client.addr) {
		return 0, false
	}
	n := srv.anvil.event(s.client.addr, e)
	return n, n > limit
}

// anvil counts connections and events per client, as Postfix's anvil(8)
// does for one smtpd service (tern's smtpd is one process per service).
type anvil struct {
	mu     sync.Mutex
	unit   time.Duration
	now    func() time.Time
	counts map[netip.Addr]*clientCount
}

type clientCount struct {
	active      int
	windowStart time.Time
	conns       int
	events      [numEvents]int
}

// event is a kind of client request that anvil counts per time unit.
type event int

const (
	eventMail event = iota // MAIL (smtpd_client_message_rate_limit)
	eventRcpt              // RCPT (smtpd_client_recipient_rate_limit)
	eventAuth              // AUTH (smtpd_client_auth_rate_limit)
	eventTLS               // STARTTLS (smtpd_client_new_tls_session_rate_limit)
	numEvents
)

func newAnvil(unit time.Duration) *anvil {
	if unit <= 0 {
		unit = time.Minute
	}
	return &anvil{unit: unit, now: time.Now, counts: map[netip.Addr]*clientCount{}}
}

// entry returns a's counters, starting a new rate window when the last
// one has ended. The caller holds mu.
func (a *anvil) entry(addr netip.Addr) *clientCount {
	c := a.counts[addr]
	if c == nil {
		c = &clientCount{}
		a.counts[addr] = c
	}
	if now := a.now(); now.Sub(c.windowStart) >= a.unit {
		c.windowStart, c.conns, c.events = now, 0, [numEvents]int{}
	}
	return c
}

// connect records a new connection and returns its release.
func (a *anvil) connect(addr netip.Addr) func() {
	a.mu.Lock()
	c := a.entry(addr)
	c.active++
	c.conns++
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		c.active--
		if c.active == 0 && a.now().Sub(c.windowStart) >= a.unit {
			delete(a.counts, addr)
		}
	}
}

// status returns the active connections and the connections in the
// current window.
func (a *anvil) status(addr netip.Addr) (active, rate int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.entry(addr)
	return c.active, c.conns
}

// event counts one event of kind e and returns the count in the current
// window.
func (a *anvil) event(addr netip.Addr, e event) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.entry(addr)
	c.events[e]++
	return c.events[e]
}

// debugPeer reports whether c is in debug_peer_list, whose sessions are
// logged command by command and reply by reply.
func (srv *Server) debugPeer(c client) bool {
	ok, err := srv.set.debugPeers.Match(c.name, c.addr)
	if err != nil {
		srv.log.Warnf("debug_peer_list: %v", err)
	}
	return ok
}

// debugLine is a command as the debug log shows it: an AUTH initial
// response, which holds the password, is left out.
func debugLine(line string, tooLong bool) string {
	if tooLong {
		return "(a line over line_length_limit)"
	}
	if verb, rest, _ := strings.Cut(line, " "); strings.EqualFold(verb, "AUTH") {
		mech, _, hasResponse := strings.Cut(rest, " ")
		if hasResponse {
			return verb + " " + mech + " ********"
		}
	}
	return line
}

// miltersFor is the milter list of a client: what smtpd_milter_maps gives
// for its address (DISABLE: none), else smtpd_milters. A table that cannot
// be searched, or a list that cannot be read, leaves smtpd_milters, with
// a warning: a filter is never skipped by mistake.
func (srv *Server) miltersFor(a netip.Addr) []*milters.Conf {
	if len(srv.milterMaps) == 0 || !a.IsValid() {
		return srv.milters
	}
	v, found, err := maps.LookupFirst(srv.milterMaps, a.Unmap().String())
	switch {
	case err != nil:
		srv.log.Warnf("smtpd_milter_maps: %v", err)
		return srv.milters
	case !found:
		return srv.milters
	}
	v = strings.TrimSpace(v)
	if strings.EqualFold(v, "DISABLE") {
		return nil
	}
	srv.milterMu.Lock()
	defer srv.milterMu.Unlock()
	if list, ok := srv.milterLists[v]; ok {
		return list
	}
	list, err := srv.openMilters(v)
	if err != nil {
		srv.log.Warnf("smtpd_milter_maps: %s: %v", a, err)
		return srv.milters
	}
	if srv.milterLists == nil {
		srv.milterLists = map[string][]*milters.Conf{}
	}
	srv.milterLists[v] = list
	return list
}

// stackLine is a goroutine stack on one log line: the functions, in
// order, from the panic down.
func stackLine(stack []byte) string {
	var funcs []string
	for _, l := range strings.Split(string(stack), "\n") {
		if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "goroutine ") {
			continue
		}
		if i := strings.LastIndexByte(l, '('); i > 0 {
			l = l[:i]
		}
		funcs = append(funcs, l)
	}
	return strings.Join(funcs, " < ")
}
