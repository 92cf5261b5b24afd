// Package smtp is tern's SMTP and LMTP delivery agent, Postfix's smtp(8)
// and lmtp(8): qmgr hands it a group of recipients for one next hop and
// the message; it finds the servers (MX records, or the next hop as
// given), delivers over SMTP or LMTP with smtp/client, and answers one
// result per recipient.
package smtp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/tlsconf"
	"github.com/tern-mta/tern/smtp/client"
	"github.com/tern-mta/tern/smtp/mx"
)

// Agent delivers requests; it implements agent.Deliverer.
type Agent struct {
	set      settings
	resolver *mx.Resolver
	cache    *sessionCache
	// dial connects to one server; tests may replace it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// warned holds the warnings logged once (policy attributes tern does
	// not use), so that each delivery does not repeat them.
	warned sync.Map
	// log receives the TLS lines of smtp_tls_loglevel; nil: none.
	log *maillog.Logger
	// delegate hands recipients to another transport's agent
	// (best_mx_transport); agent.Delegate unless a test replaces it.
	delegate func(transport, nexthop string, req *agent.Request) []agent.Result
}

// isSoft reports whether err is a lookup failure that defers mail it
// would otherwise bounce (smtp_defer_if_no_mx_address_found).
func isSoft(err error) bool {
	var me *mx.Error
	return errors.As(err, &me) && me.Soft
}

// notFoundText is the reason for mail whose destination did not resolve:
// Postfix's "Host or domain name not found. ..." wording, which most of
// the resolver's errors already have.
func notFoundText(err error) string {
	const prefix = "Host or domain name not found. "
	if text := err.Error(); !strings.HasPrefix(text, prefix) {
		return prefix + text
	}
	return err.Error()
}

// target is one server to try: a name for messages and where to connect.
type target struct {
	name    string // host name, or the socket path
	network string
	addr    string // "ip:port" or the socket path
	// secure says the host and its address were found through
	// DNSSEC-validated lookups (mx.Host.Secure), as DANE requires.
	secure bool
	// canonical is the end of the CNAME chain from name to its address
	// (mx.Host.Canonical), "" for none: DANE's first TLSA base.
	canonical string
}

// peer is the server as Postfix names it in relay=: "name[ip]:port".
func (t target) peer() string {
	if t.network == "unix" {
		return t.name
	}
	host, port, _ := net.SplitHostPort(t.addr)
	return t.name + "[" + host + "]:" + port
}

// Deliver implements agent.Deliverer.
func (a *Agent) Deliver(ctx context.Context, req *agent.Request) []agent.Result {
	begin := time.Now()
	results := make([]agent.Result, len(req.Recipients))
	dest, err := parseNexthop(req.Nexthop, a.set.lmtp, a.set.port, a.set.queueDir)
	if err != nil {
		return fillAll(results, agent.Deferf("4.3.5", "mail transport unavailable: %v", err))
	}
	if dest.auth, err = a.credentials(dest, req.Env.Sender); err != nil {
		return fillAll(results, agent.Deferf("4.3.0", "%v", err))
	}
	var generic *genericAddrs
	if g := a.set.generic; g != nil {
		ga := genericAddrs{}
		if ga.sender, ga.rcpts, err = genericEnvelope(g, req.Env.Sender, requestAddresses(req)); err != nil {
			return fillAll(results, agent.Deferf("4.3.0", "%v", err))
		}
		generic = &ga
	}
	msg := a.message(req, generic)
	done, last, perm := a.deliverTo(ctx, dest, msg, results, begin)
	if done {
		return results
	}
	if last.DSN == dsnLoop && a.set.bestMXTransport != "" && a.delegate != nil {
		// This host is the best MX: best_mx_transport delivers here.
		transport, nexthop, _ := strings.Cut(a.set.bestMXTransport, ":")
		return a.delegate(transport, nexthop, req)
	}
	if a.useFallback(dest, last, perm) {
		for _, fdest := range a.set.fallback {
			if fdest.auth, err = a.credentials(fdest, req.Env.Sender); err != nil {
				continue
			}
			if done, last, _ = a.deliverTo(ctx, fdest, msg, results, begin); done {
				return results
			}
			perm = false // a fallback relay that fails does not bounce the mail
		}
	}
	if !perm {
		last.Status = agent.Defer
		if strings.HasPrefix(last.DSN, "5") {
			last.DSN = "4" + last.DSN[1:]
		}
	}
	// No message went out: all the time went into connecting.
	last.Setup = time.Since(begin)
	return fillAll(results, last)
}

// deliverTo tries the servers of dest in turn (a cached session first).
// done reports that a session took the message and results hold each
// recipient's outcome; otherwise last is the best failure and perm tells
// whether it is permanent for every server.
func (a *Agent) deliverTo(ctx context.Context, dest destination, msg func() client.Message, results []agent.Result, begin time.Time) (done bool, last agent.Result, perm bool) {
	if c := a.cache.take(dest.cacheKey()); c != nil {
		if a.send(ctx, c.s, c.peer, dest, msg, results, begin) {
			return true, last, false
		}
	}
	targets, res := a.targets(ctx, dest)
	if res != nil {
		return false, *res, res.Status == agent.Bounce
	}
	perm = true
	sessions := 0
	for _, t := range targets {
		// smtp_mx_session_limit counts the servers that answered the
		// connection; refused connections do not count.
		if a.set.sessionLimit > 0 && sessions >= a.set.sessionLimit {
			break
		}
		s, r, final := a.open(ctx, dest, t)
		if s != nil || r.Relay != "" {
			sessions++
		}
		if final {
			return false, r, true
		}
		if s == nil {
			last = r
			perm = perm && r.Status == agent.Bounce
			continue
		}
		if a.send(ctx, s, t.peer(), dest, msg, results, begin) {
			return true, last, false
		}
		last, perm = agent.Deferf("4.4.2", "lost connection with %s while sending the message", t.peer()), false
	}
	if len(targets) == 0 {
		last, perm = agent.Deferf("4.4.3", "no server to deliver to for %s", dest.key()), false
	}
	return false, last, perm
}

// useFallback reports whether smtp_fallback_relay gets the mail that
// dest could not take: when its servers failed temporarily or its name
// was not found, as in Postfix; not for a null MX, nor for 5xx replies,
// nor for LMTP.
func (a *Agent) useFallback(dest destination, last agent.Result, perm bool) bool {
	if len(a.set.fallback) == 0 || a.set.lmtp {
		return false
	}
	for _, f := range a.set.fallback {
		if f.key() == dest.key() {
			return false // the fallback itself
		}
	}
	return !perm || last.DSN == "5.4.4"
}

func fillAll(results []agent.Result, r agent.Result) []agent.Result {
	for i := range results {
		results[i] = r
	}
	return results
}

// dsnLoop is the status of mail that would loop back to this host
// (RFC 3463 section 3.5: routing loop detected).
const dsnLoop = "5.4.6"

// truncateSelf drops the MX hosts that are this machine (an address of
// inet_interfaces or proxy_interfaces) and those less preferred than it,
// as Postfix's smtp does: delivering to them would send the mail back
// here. loops is true when no host more preferred than this machine is
// left: the mail would loop (the MX points here for a domain this host
// does not take).
func (a *Agent) truncateSelf(hosts []mx.Host) (kept []mx.Host, loops bool) {
	if len(a.set.ownAddrs) == 0 {
		return hosts, false
	}
	for i, h := range hosts {
		for _, ip := range h.Addrs {
			if !a.set.ownAddrs[ip.Unmap()] {
				continue
			}
			kept = hosts[:i]
			for len(kept) > 0 && kept[len(kept)-1].Pref >= h.Pref {
				kept = kept[:len(kept)-1]
			}
			return kept, len(kept) == 0
		}
	}
	return hosts, false
}

// targets resolves the destination to the servers to try, in order, at
// most smtp_mx_address_limit addresses. A DNS answer that settles the
// delivery (null MX, no such domain, a temporary failure) is returned as
// the result for every recipient.
func (a *Agent) targets(ctx context.Context, dest destination) ([]target, *agent.Result) {
	if dest.network == "unix" {
		return []target{{name: dest.path, network: "unix", addr: dest.path}}, nil
	}
	var hosts []mx.Host
	var err error
	byMX := dest.mx && a.set.dnsLevel != dnsDisabled
	if byMX {
		hosts, err = a.resolver.LookupMX(ctx, dest.host)
	} else {
		var h mx.Host
		h, err = a.resolver.LookupHost(ctx, dest.host)
		hosts = []mx.Host{h}
	}
	switch {
	case errors.Is(err, mx.ErrNullMX):
		r := agent.Bouncef("5.1.10", "Recipient address has null MX")
		return nil, &r
	case errors.Is(err, mx.ErrNotFound) && !isSoft(err):
		r := agent.Bouncef(mx.StatusNotFound, "%s", notFoundText(err))
		return nil, &r
	case err != nil:
		status := mx.StatusTemporary
		if isSoft(err) {
			status = mx.StatusSoftNotFound
		}
		r := agent.Deferf(status, "%s", notFoundText(err))
		return nil, &r
	}
	if byMX && !a.set.lmtp {
		var loops bool
		if hosts, loops = a.truncateSelf(hosts); loops {
			r := agent.Bouncef(dsnLoop, "mail for %s loops back to myself", dest.host)
			return nil, &r
		}
	}
	var out []target
	var ips []netip.Addr
	for _, h := range hosts {
		for _, ip := range h.Addrs {
			out = append(out, target{name: h.Name, canonical: h.Canonical, network: "tcp", addr: netip.AddrPortFrom(ip, uint16(dest.port)).String(),
				secure: h.Secure})
			ips = append(ips, ip)
		}
	}
	return limitTargets(out, ips, a.set.addressLimit, a.set.balanceProtocols), nil
}

// limitTargets cuts the servers to smtp_mx_address_limit (0: no limit),
// keeping their order. With balance (smtp_balance_inet_protocols), when
// the list holds IPv4 and IPv6 addresses and is cut, each family keeps
// half the limit (the first address's family the odd one, and either
// the other's unused share), so that a destination whose IPv6 (or IPv4)
// is broken is still reached over the other, as Postfix does.
func limitTargets(ts []target, ips []netip.Addr, limit int, balance bool) []target {
	if limit <= 0 || len(ts) <= limit {
		return ts
	}
	if !balance {
		return ts[:limit]
	}
	n6 := 0
	for _, ip := range ips {
		if ip.Unmap().Is6() {
			n6++
		}
	}
	n4 := len(ips) - n6
	if n4 == 0 || n6 == 0 {
		return ts[:limit]
	}
	first6 := ips[0].Unmap().Is6()
	half, extra := limit/2, limit%2
	b4, b6 := half, half
	if first6 {
		b6 += extra
	} else {
		b4 += extra
	}
	// A family with fewer addresses than its share leaves the rest to
	// the other.
	if n4 < b4 {
		b6, b4 = b6+b4-n4, n4
	}
	if n6 < b6 {
		b4, b6 = b4+b6-n6, n6
	}
	out := ts[:0:0]
	for i, ip := range ips {
		if ip.Unmap().Is6() {
			if b6 == 0 {
				continue
			}
			b6--
		} else {
			if b4 == 0 {
				continue
			}
			b4--
		}
		out = append(out, ts[i])
	}
	return out
}

// open connects to one server and runs the session start (greeting,
// EHLO, STARTTLS, AUTH). On failure it returns the result that server
// earned, for the case that no other server does better; final says that
// no other server is to be tried: a 5xx greeting with
// smtp_skip_5xx_greeting = no bounces the mail at once.
func (a *Agent) open(ctx context.Context, dest destination, t target) (s *client.Session, r agent.Result, final bool) {
	opt, err := a.sessionOptions(dest, t)
	if err != nil {
		return nil, agent.Deferf("4.3.5", "%v", err), false
	}
	if r := a.settleDANE(ctx, dest, t, &opt); r != nil {
		return nil, *r, false
	}
	dctx, cancel := context.WithTimeout(ctx, a.set.connectTimeout)
	conn, err := a.dial(dctx, t.network, t.addr)
	cancel()
	if err != nil {
		return nil, agent.Deferf("4.4.1", "connect to %s: %s", t.peer(), connectReason(err)), false
	}
	if a.set.wrapperMode && t.network == "tcp" {
		if opt.TLSConfig == nil {
			conn.Close()
			return nil, agent.Deferf("4.7.5", "smtp_tls_wrappermode: TLS is off for %s (smtp_tls_policy_maps)", dest.key()), false
		}
		conn = tls.Client(conn, opt.TLSConfig)
	}
	s, err = client.Open(ctx, conn, namaddr(t.peer()), opt)
	if err != nil {
		conn.Close()
		r, final := a.sessionResult(t, err)
		return nil, r, final
	}
	a.logTLS(s, t, opt.TLSLevel)
	return s, agent.Result{}, false
}

// logTLS logs a new session's TLS, as Postfix's smtp does with
// smtp_tls_loglevel 1 or more: "Verified" where the certificate was
// checked (levels verify, secure, fingerprint, and dane with usable TLSA
// records), "Untrusted" where it was not.
func (a *Agent) logTLS(s *client.Session, t target, level client.TLSLevel) {
	st := s.TLS()
	if st == nil && a.log != nil && a.set.noteStartTLS && s.Has("STARTTLS") {
		// smtp_tls_note_starttls_offer: a server that offers TLS where
		// none is used.
		a.log.Infof("Host offered STARTTLS: [%s]", t.name)
	}
	if st == nil || a.log == nil || a.set.tlsLogLevel < 1 {
		return
	}
	trust := "Untrusted"
	switch level {
	case client.TLSVerify, client.TLSSecure, client.TLSDane, client.TLSFingerprint:
		trust = "Verified"
	}
	a.log.Infof("%s TLS connection established to %s: %s", trust, t.peer(), tlsconf.Summary(st))
}

// connectReason is the short reason of a failed connect, as Postfix
// writes it ("Connection refused", "Connection timed out").
func connectReason(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "Connection timed out"
	case strings.Contains(err.Error(), "connection refused"):
		return "Connection refused"
	case strings.Contains(err.Error(), "no such file"):
		return "No such file or directory"
	}
	return err.Error()
}

// sessionResult maps a session failure to a result, with the text
// Postfix logs ("host X refused to talk to me: ..."). A 5xx greeting is
// temporary with smtp_skip_5xx_greeting (the default: Postfix's client
// moves on and defers the mail when no server takes it), and final
// without it.
func (a *Agent) sessionResult(t target, err error) (r agent.Result, final bool) {
	var ce *client.Error
	if !errors.As(err, &ce) {
		return agent.Deferf("4.4.2", "conversation with %s: %v", t.peer(), err), false
	}
	if ce.Stage == client.StageGreeting && !ce.Temporary {
		if !a.set.skip5xxGreeting {
			return failureResult(t, ce), true
		}
		skipped := *ce
		skipped.Temporary = true
		if skipped.Status != "" && skipped.Status[0] == '5' {
			skipped.Status = "4" + skipped.Status[1:]
		}
		return failureResult(t, &skipped), false
	}
	return failureResult(t, ce), false
}

// failureResult is the result of session failure ce with server t.
func failureResult(t target, ce *client.Error) agent.Result {
	// A session existed: Postfix names the server in relay=.
	diag, mta := "", ""
	if ce.Reply != nil {
		diag, mta = ce.Reply.Text, t.name
	}
	dsn := ce.Status
	if ce.Temporary {
		if dsn == "" || dsn[0] != '4' {
			dsn = "4.0.0"
		}
		r := agent.Deferf(dsn, "%s", ce.Error())
		r.Relay, r.Diagnostic, r.RemoteMTA = t.peer(), diag, mta
		return r
	}
	if dsn == "" || dsn[0] != '5' {
		dsn = "5.0.0"
	}
	r := agent.Bouncef(dsn, "%s", ce.Error())
	r.Relay, r.Diagnostic, r.RemoteMTA = t.peer(), diag, mta
	return r
}

// send runs the transaction on s and fills results; it reports false
// when the session broke before any recipient had an answer, so the
// caller may try another server. A session still good goes back to the
// cache. The time from begin to now is the connection setup time of the
// results (the c of delays=a/b/c/d).
func (a *Agent) send(ctx context.Context, s *client.Session, peer string, dest destination, msg func() client.Message, results []agent.Result, begin time.Time) bool {
	setup := time.Since(begin)
	defer func() {
		for i := range results {
			results[i].Setup, results[i].ConnUse = setup, s.Transactions()
		}
	}()
	m := msg()
	rr, err := s.Send(ctx, m)
	closeBody(m.Body)
	var ce *client.Error
	dead := errors.As(err, &ce)
	if err != nil && !dead {
		// The queued message could not be read: nothing was sent.
		fillAll(results, agent.Deferf("4.3.0", "error reading the queued message: %v", err))
		a.keep(s, peer, dest)
		return true
	}
	answered := false
	for _, r := range rr {
		answered = answered || r.Answered()
	}
	if dead && !answered {
		_ = s.Close(ctx)
		return false
	}
	dsnPassed := s.Has("DSN")
	for i := range results {
		switch {
		case i < len(rr) && rr[i].Answered():
			results[i] = recipientResult(peer, rr[i])
			ok := results[i].Status == agent.OK
			results[i].DSNPassed = dsnPassed && ok
			results[i].Relayed = ok && !dsnPassed && !a.set.assumeFinal
		case dead:
			results[i] = agent.Deferf(ce.Status, "%s", ce.Error())
		default:
			results[i] = agent.Deferf("4.4.2", "no answer from %s for this recipient", peer)
		}
	}
	if dead {
		_ = s.Close(ctx)
		return true
	}
	a.keep(s, peer, dest)
	return true
}

// keep caches a session for the next message. Send leaves it between
// transactions (a completed one needs no RSET, RFC 5321 section 4.1.1.4,
// and an aborted one was reset), so no RSET is sent: it cost a round trip
// per message, and Postfix's smtpd counts RSET as a junk command, so
// that after smtpd_junk_command_limit (100) messages on one connection
// each one raised its error count, to error sleeps and a disconnect.
// A cached session the server has closed since fails before any answer,
// and the delivery goes on over a new connection.
func (a *Agent) keep(s *client.Session, peer string, dest destination) {
	a.cache.put(dest.cacheKey(), cached{s: s, peer: peer})
}

// namaddr drops the port from "name[ip]:port": Postfix names the server
// so in "host ... said:" texts, the port being in relay=.
func namaddr(peer string) string {
	if i := strings.LastIndexByte(peer, ']'); i >= 0 {
		return peer[:i+1]
	}
	return peer
}

// hostName is the name part of "name[ip]:port".
func hostName(peer string) string {
	name, _, _ := strings.Cut(peer, "[")
	return name
}

// recipientResult maps one recipient's reply.
func recipientResult(peer string, r client.RcptResult) agent.Result {
	res := agent.Result{DSN: r.Reply.Enhanced, Relay: peer}
	text := r.Reply.Text
	// A reason the client made up itself (no SMTPUTF8 offered, size
	// limit) is no server's reply: it is logged and reported as it is,
	// as Postfix does.
	if r.Reply.Code >= 400 && r.Stage != "" {
		res.Diagnostic, res.RemoteMTA = r.Reply.Text, hostName(peer)
		text = fmt.Sprintf("host %s said: %s (in reply to %s command)", namaddr(peer), r.Reply.Text, r.Stage)
	}
	switch {
	case r.Reply.Code >= 200 && r.Reply.Code < 300:
		res.Status, res.Text = agent.OK, r.Reply.Text
		if res.DSN == "" {
			res.DSN = "2.0.0"
		}
	case r.Reply.Code >= 500:
		res.Status, res.Text = agent.Bounce, text
		if res.DSN == "" || res.DSN[0] != '5' {
			res.DSN = "5.0.0"
		}
	default:
		res.Status, res.Text = agent.Defer, text
		if res.DSN == "" || res.DSN[0] != '4' {
			res.DSN = "4.0.0"
		}
	}
	return res
}

// message builds the client's view of the request; it is a function so
// that each attempt reads the body from its start. generic, when not nil,
// holds the addresses smtp_generic_maps gave; the content goes through
// outgoing.
func (a *Agent) message(req *agent.Request, generic *genericAddrs) func() client.Message {
	return func() client.Message {
		m := client.Message{
			Sender: req.Env.Sender, Size: req.Body.Size(), Ret: req.Env.Ret, EnvID: req.Env.EnvID,
			Body: agent.Reader(req.Body), EightBit: req.Env.EightBit,
		}
		if generic != nil {
			m.Sender = generic.sender
		}
		m.Body = a.outgoing(req.Env.ID, m.Body)
		// The sender's request, or one the addresses need (a UTF-8
		// address can go nowhere else).
		m.SMTPUTF8 = req.Env.SMTPUTF8 || !isASCII(m.Sender)
		m.UTF8Headers = req.Env.UTF8Header
		m.Probe = req.Env.Verifying()
		if a.set.sendXforward && !m.Probe {
			m.XForward = xforwardAttrs(req.Env)
		}
		for i, rc := range req.Recipients {
			addr := rc.Address
			if generic != nil {
				addr = generic.rcpts[i]
			}
			m.Recipients = append(m.Recipients, client.Recipient{Addr: addr, Notify: rc.Notify, ORcpt: orcpt(rc)})
			m.SMTPUTF8 = m.SMTPUTF8 || !isASCII(addr)
		}
		return m
	}
}

// orcpt is the ORCPT to pass on: the one received, or the original
// address when aliasing or rewriting changed it.
func orcpt(rc envelope.Recipient) string {
	if rc.ORcpt != "" {
		return rc.ORcpt
	}
	if rc.Original != "" && !strings.EqualFold(rc.Original, rc.Address) && strings.Contains(rc.Original, "@") {
		return "rfc822;" + rc.Original
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
