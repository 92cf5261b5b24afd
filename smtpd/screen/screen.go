package screen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/reply"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// Lookup asks a DNS list about a name and returns the addresses it
// answers with (none: not listed).
type Lookup func(ctx context.Context, name string) ([]netip.Addr, string, error)

// Screen runs the tests for the clients of one smtpd service.
type Screen struct {
	set    *Settings
	lookup Lookup
	log    *maillog.Logger // logs as postscreen
	cache  *cache
	now    func() time.Time

	testing atomic.Int32 // clients under test (postscreen_pre_queue_limit)
	waiting atomic.Int32 // clients let through, waiting for a slot
	mu      sync.Mutex
	conns   map[netip.Addr]int // clients being screened, per address
}

// New returns a Screen with settings set, asking DNS lists with lookup,
// logging with log.
func New(set *Settings, lookup Lookup, log *maillog.Logger) *Screen {
	return &Screen{set: set, lookup: lookup, log: log, cache: newCache(), now: time.Now, conns: map[netip.Addr]int{}}
}

// Close writes the passes waiting for the cache file and closes it.
func (sc *Screen) Close() { sc.cache.close() }

// Client is the connection under test and its endpoints.
type Client struct {
	Conn   net.Conn
	Addr   netip.AddrPort // the client (after a PROXY header, the one it names)
	Server netip.AddrPort // the address it connected to
}

// who is the client as postscreen logs it: [addr]:port.
func (c Client) who() string { return fmt.Sprintf("[%s]:%d", c.Addr.Addr().Unmap(), c.Addr.Port()) }

// Verdict is what the tests decided about a client.
type Verdict struct {
	// Closed: the client was dropped (with a reply) or hung up; the
	// connection is to be closed, with no session.
	Closed bool
	// Enforce, when set, is the reply each RCPT of the session gets.
	Enforce reply.Reply
	// Early is what the client sent before its turn: the session reads
	// it as the first input.
	Early []byte
	// Deep, when set, runs the deep protocol tests in the session.
	Deep *Deep
}

// The replies of postscreen(8), with its texts.
var (
	replyTooManyConns = reply.New(reply.CodeUnavailable, reply.StatusTempPolicy, "Error: too many connections")
	replyScreensBusy  = reply.New(reply.CodeUnavailable, "4.3.2", "All screening ports are busy")
	replyServersBusy  = reply.New(reply.CodeUnavailable, "4.3.2", "All server ports are busy")
	// A denylisted client, dropped or enforced.
	replyDenyDrop    = reply.New(reply.CodeNoMail, reply.StatusNotAccepting, "Service currently unavailable")
	replyDenyEnforce = reply.New(reply.CodeMailboxUnavail, reply.StatusNotAccepting, "Service currently unavailable")
	// A client that talked before its turn.
	replyPregreetDrop    = reply.New(reply.CodeNoMail, reply.StatusBadCommand, "Protocol error")
	replyPregreetEnforce = reply.New(reply.CodeMailboxUnavail, reply.StatusBadCommand, "Protocol error")
)

// Check tests c before its greeting. greetWait is postscreen_greet_wait
// (its stress value when the service is stressed). It writes the first
// line of a multi-line greeting, "220-" and the banner, when it runs the
// pregreet test; the session's greeting completes it.
func (sc *Screen) Check(ctx context.Context, c Client, greetWait time.Duration) Verdict {
	start := sc.now()
	sc.log.Infof("CONNECT from %s to [%s]:%d", c.who(), c.Server.Addr().Unmap(), c.Server.Port())
	addr := c.Addr.Addr().Unmap()
	n := sc.enter(addr)
	defer sc.leave(addr)
	if sc.set.ConnLimit > 0 && n > sc.set.ConnLimit {
		sc.log.Infof("NOQUEUE: reject: CONNECT from %s: too many connections", c.who())
		return sc.drop(c, replyTooManyConns)
	}
	if sc.set.PostQueueLimit > 0 && int(sc.waiting.Load()) >= sc.set.PostQueueLimit {
		sc.log.Infof("NOQUEUE: reject: CONNECT from %s: all server ports busy", c.who())
		return sc.drop(c, replyServersBusy)
	}
	var v Verdict
	switch sc.access(addr) {
	case accessPermit:
		sc.log.Infof("%s %s", sc.word("ALLOWLISTED", "WHITELISTED"), c.who())
		return v
	case accessReject:
		sc.log.Infof("%s %s", sc.word("DENYLISTED", "BLACKLISTED"), c.who())
		switch sc.set.DenyAction {
		case Drop:
			return sc.drop(c, replyDenyDrop)
		case Enforce:
			v.Enforce = replyDenyEnforce
		}
	}
	var cached passes
	if !sc.set.NoCache {
		cached = sc.cache.get(addr)
	}
	t := tests{
		greet: sc.set.Banner != "" && !start.Before(cached.greet),
		dnsbl: len(sc.set.Sites) > 0 && !start.Before(cached.dnsbl),
		deep:  sc.deepEnabled() && !start.Before(cached.deep),
	}
	if v.Enforce.IsZero() && !t.greet && !t.dnsbl {
		// With deep tests due, the session decides (Deep.End).
		if v.Deep = sc.deep(c, cached, start); v.Deep == nil {
			sc.log.Infof("PASS OLD %s", c.who())
		}
		return v
	}
	if sc.set.PreQueueLimit > 0 && int(sc.testing.Add(1)) > sc.set.PreQueueLimit {
		sc.testing.Add(-1)
		sc.log.Infof("reject: connect from %s: all screening ports busy", c.who())
		return sc.drop(c, replyScreensBusy)
	} else if sc.set.PreQueueLimit > 0 {
		defer sc.testing.Add(-1)
	}
	v = sc.run(ctx, c, t, v, start, greetWait)
	if !v.Closed && v.Enforce.IsZero() {
		v.Deep = sc.deep(c, cached, start)
	}
	return v
}

// tests are the tests a client is due for; with deep, the deep protocol
// tests in the session log PASS NEW when they pass (deep.go).
type tests struct{ greet, dnsbl, deep bool }

// run does the tests t, before the greeting; v holds the access list's
// outcome.
func (sc *Screen) run(ctx context.Context, c Client, t tests, v Verdict, start time.Time, greetWait time.Duration) Verdict {
	wait := greetWait
	if !t.greet {
		wait = sc.set.DNSBLTimeout
	}
	deadline := start.Add(wait)
	var score *dnsblScore
	if t.dnsbl {
		score = sc.startDNSBL(ctx, c.Addr.Addr().Unmap())
	}
	var early earlyTalk
	if t.greet {
		if _, err := c.Conn.Write([]byte("220-" + sc.set.Banner + "\r\n")); err != nil {
			return sc.hangup(c, start)
		}
		early = sc.watch(c.Conn, deadline)
	}
	res, talked := sc.await(ctx, score, early, deadline)
	if early != nil {
		if talked == nil {
			_ = c.Conn.SetReadDeadline(sc.now()) // stop watching
			r := <-early
			talked = &r
		}
		_ = c.Conn.SetReadDeadline(time.Time{})
		if ctx.Err() != nil {
			return Verdict{Closed: true}
		}
		if len(talked.data) > 0 {
			v.Early = talked.data
			sc.log.Infof("PREGREET %d after %s from %s: %.100s", len(talked.data), elapsed(start, talked.at), c.who(), maillog.Escape(talked.data))
		} else if talked.err != nil && !isTimeout(talked.err) {
			return sc.hangup(c, start)
		}
	}
	var pass passes
	failed := !v.Enforce.IsZero()
	if t.greet {
		switch {
		case len(v.Early) == 0:
			pass.greet = start.Add(sc.set.GreetTTL)
		case sc.set.GreetAction == Drop:
			return sc.drop(c, replyPregreetDrop)
		case sc.set.GreetAction == Enforce:
			failed = true
			v.Enforce = firstOf(v.Enforce, replyPregreetEnforce)
		default:
			failed = true // ignored, but tested again next time
		}
	}
	if t.dnsbl {
		if res.score < sc.set.Threshold {
			pass.dnsbl = start.Add(sc.set.DNSBLTTL)
			if res.skipGreet && !failed {
				pass.greet = later(pass.greet, pass.dnsbl)
			}
		} else {
			sc.log.Infof("DNSBL rank %d for %s", res.score, c.who())
			failed = true
			text := fmt.Sprintf("Service unavailable; client [%s] blocked using %s", c.Addr.Addr().Unmap(), sc.replyName(res.top))
			switch sc.set.DNSBLAction {
			case Drop:
				return sc.drop(c, reply.New(reply.CodeNoMail, reply.StatusRelayDenied, "%s", text))
			case Enforce:
				v.Enforce = firstOf(v.Enforce, reply.New(reply.CodeMailboxUnavail, reply.StatusRelayDenied, "%s", text))
			}
		}
	}
	if !failed {
		if !sc.set.NoCache {
			sc.cache.put(c.Addr.Addr().Unmap(), pass, start)
		}
		if !t.deep {
			sc.log.Infof("PASS NEW %s", c.who())
		}
	}
	return v
}

// dnsblResult is the outcome of the DNS list lookups when the tests end.
type dnsblResult struct {
	score int
	top   string // the listing site of the largest weight
	// skipGreet: the score is at or below the allowlist threshold, so
	// the greeting test is skipped.
	skipGreet bool
}

// await waits until deadline for the tests to finish: the DNS lists to
// answer and the client to keep silent. It ends early when the DNS lists
// have answered and there is no greeting test, or the client has talked
// already, or the score skips the test; and when the client talks or
// hangs up while no DNS list is pending, or talks with the greet action
// drop. talked is what the client did, if it did before the end.
func (sc *Screen) await(ctx context.Context, score *dnsblScore, early earlyTalk, deadline time.Time) (res dnsblResult, talked *talk) {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var dnsDone <-chan struct{}
	if score != nil {
		dnsDone = score.done
	}
	for {
		select {
		case r := <-early:
			talked, early = &r, nil
			hungUp := r.err != nil && !isTimeout(r.err) && len(r.data) == 0
			if dnsDone == nil || hungUp || sc.set.GreetAction == Drop {
				return sc.result(score), talked
			}
		case <-dnsDone:
			dnsDone = nil
			res = sc.result(score)
			if early == nil || res.skipGreet {
				return res, talked
			}
		case <-timer.C:
			return sc.result(score), talked
		case <-ctx.Done(): // smtpd stops: the caller sees ctx and hangs up
			return sc.result(score), talked
		}
	}
}

// result reads the score so far (lookups that have not answered count
// as not listed).
func (sc *Screen) result(score *dnsblScore) dnsblResult {
	if score == nil {
		return dnsblResult{}
	}
	total, top := score.get()
	allow := sc.set.AllowThreshold
	return dnsblResult{score: total, top: top, skipGreet: allow < 0 && total <= allow && total < sc.set.Threshold}
}

// drop refuses c with r and reports it closed.
func (sc *Screen) drop(c Client, r reply.Reply) Verdict {
	_ = c.Conn.SetWriteDeadline(sc.now().Add(10 * time.Second))
	_, _ = c.Conn.Write([]byte(r.Lines(true)))
	sc.log.Infof("DISCONNECT %s", c.who())
	return Verdict{Closed: true}
}

// hangup logs a client that left during the tests.
func (sc *Screen) hangup(c Client, start time.Time) Verdict {
	sc.log.Infof("HANGUP after %s from %s in tests before SMTP handshake", elapsed(start, sc.now()), c.who())
	sc.log.Infof("DISCONNECT %s", c.who())
	return Verdict{Closed: true}
}

// Waiting counts a client let through that waits for a session slot, for
// postscreen_post_queue_limit; the function returned ends the wait.
func (sc *Screen) Waiting() (done func()) {
	sc.waiting.Add(1)
	return func() { sc.waiting.Add(-1) }
}

// enter counts a connection from a, returning how many a has open.
func (sc *Screen) enter(a netip.Addr) int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.conns[a]++
	return sc.conns[a]
}

func (sc *Screen) leave(a netip.Addr) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.conns[a]--; sc.conns[a] <= 0 {
		delete(sc.conns, a)
	}
}

// word picks respectful_logging's word or the old one.
func (sc *Screen) word(respectful, old string) string {
	if sc.set.Respectful {
		return respectful
	}
	return old
}

// replyName is the name a DNS list goes by in replies:
// postscreen_dnsbl_reply_map's value for it, else its own.
func (sc *Screen) replyName(site string) string {
	if m := sc.set.DNSBLReplyNames; m != nil {
		if v, ok, err := m.Lookup(site); err == nil && ok {
			return v
		} else if err != nil {
			sc.log.Warnf("%s: lookup of %s: %v", m.Name(), site, err)
		}
	}
	return site
}

// firstOf returns a unless it is zero, else b.
func firstOf(a, b reply.Reply) reply.Reply {
	if a.IsZero() {
		return b
	}
	return a
}

// elapsed formats the time from start to t as postscreen logs it.
func elapsed(start, t time.Time) string {
	return fmt.Sprintf("%.2f", t.Sub(start).Seconds())
}

// talk is what the client sent before its turn, or how its read ended.
type talk struct {
	data []byte
	at   time.Time
	err  error
}

// earlyTalk delivers the one read watch makes.
type earlyTalk chan talk

// watch reads what the client sends until deadline (the pregreet test).
// Only one read is made; what it returns is the session's first input.
func (sc *Screen) watch(conn net.Conn, deadline time.Time) earlyTalk {
	ch := make(earlyTalk, 1)
	_ = conn.SetReadDeadline(deadline)
	go func() {
		buf := make([]byte, 1024)
		n, err := conn.Read(buf)
		ch <- talk{data: buf[:n], at: sc.now(), err: err}
	}()
	return ch
}

// dnsblScore adds up the weights of the DNS lists that list a client, as
// their answers come in.
type dnsblScore struct {
	done      chan struct{} // closed when every list has answered
	mu        sync.Mutex
	total     int
	top       string // the listing zone of the largest weight
	topWeight int
}

func (d *dnsblScore) add(s dnsSite) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.total += s.weight
	if d.top == "" || s.weight > d.topWeight {
		d.top, d.topWeight = s.zone, s.weight
	}
}

func (d *dnsblScore) get() (int, string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total, d.top
}

// startDNSBL asks every postscreen_dnsbl_sites list about a at once,
// each for at most postscreen_dnsbl_timeout. A failed lookup counts as
// not listed.
func (sc *Screen) startDNSBL(ctx context.Context, a netip.Addr) *dnsblScore {
	d := &dnsblScore{done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(ctx, sc.set.DNSBLTimeout)
	var wg sync.WaitGroup
	for _, site := range sc.set.Sites {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs, _, err := sc.lookup(ctx, reversed(a, site.zone))
			if err != nil {
				return
			}
			for _, x := range addrs {
				if site.listed(x) {
					d.add(site)
					return
				}
			}
		}()
	}
	go func() {
		wg.Wait()
		cancel()
		close(d.done)
	}()
	return d
}

func isTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }

// reversed is a's name under a DNS list zone.
func reversed(a netip.Addr, zone string) string {
	return restrict.ReversedAddr(a) + "." + strings.TrimSuffix(zone, ".")
}
