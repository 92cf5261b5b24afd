package qmgr

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/cachefile"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maps"
)

// Address verification (Postfix's verify(8)): smtpd's
// reject_unverified_sender and reject_unverified_recipient ask qmgr
// whether an address is deliverable; qmgr answers from a cache and, for
// an address it has no fresh answer for, sends a probe: the address is
// routed as mail to it would be and its delivery agent is asked whether
// it would take it (smtp and lmtp: MAIL and RCPT, then RSET; local and
// virtual: the tables; pipe: yes), nothing being delivered. The cache is
// kept in memory and, unless address_verify_map is empty, in a file that
// outlives qmgr (verify_persist.go).

// Verification results, as the verify request's reply names them.
const (
	verifyDeliverable   = "deliverable"
	verifyUndeliverable = "undeliverable"
	verifyDeferred      = "deferred" // the probe failed temporarily
	verifyUnknown       = "unknown"  // no result yet: a probe is under way
)

// verifyTimeout bounds one probe.
const verifyTimeout = 5 * time.Minute

// verifyProbesAtOnce bounds the probes in flight: a flood of queries for
// new addresses (a dictionary attack on reject_unverified_recipient, say)
// waits its turn rather than opening that many connections.
const verifyProbesAtOnce = 20

// verifyEntry is what the cache knows of one address.
type verifyEntry struct {
	status, text string
	updated      time.Time // of status; zero: none yet
	probing      bool
}

// verifySettings are the address_verify_* parameters.
type verifySettings struct {
	sender                        string
	senderTTL                     time.Duration // address_verify_sender_ttl
	positiveExpire, positiveRenew time.Duration
	negativeExpire, negativeRenew time.Duration
	negativeCache                 bool
	cleanupInterval               time.Duration
}

// verifier holds the cache and runs probes.
type verifier struct {
	m *Manager
	// router routes probes: qmgr's own, or one with the
	// address_verify_* routing overrides.
	router *router
	set    verifySettings
	slots  chan struct{} // one per probe in flight
	mu     sync.Mutex
	cache  map[string]*verifyEntry
	// nextSweep is when expired entries are next dropped
	// (address_verify_cache_cleanup_interval), so that the cache does
	// not keep every address ever asked about.
	nextSweep time.Time
	// file, when address_verify_map names one, keeps the cache across
	// restarts.
	file *cachefile.File
}

func newVerifier(m *Manager, cfg *config.Config) *verifier {
	sender := strings.TrimSpace(cfg.Get("address_verify_sender"))
	if sender != "" && sender != "<>" && !strings.Contains(sender, "@") {
		sender += "@" + cfg.Get("myorigin")
	}
	if sender == "<>" {
		sender = ""
	}
	return &verifier{m: m, cache: map[string]*verifyEntry{}, slots: make(chan struct{}, verifyProbesAtOnce), set: verifySettings{
		cleanupInterval: cfg.Duration("address_verify_cache_cleanup_interval"),
		sender:          sender,
		senderTTL:       cfg.Duration("address_verify_sender_ttl"),
		positiveExpire:  cfg.Duration("address_verify_positive_expire_time"),
		positiveRenew:   cfg.Duration("address_verify_positive_refresh_time"),
		negativeExpire:  cfg.Duration("address_verify_negative_expire_time"),
		negativeRenew:   cfg.Duration("address_verify_negative_refresh_time"),
		negativeCache:   cfg.Bool("address_verify_negative_cache"),
	}}
}

// verifyRouting pairs the address_verify_* routing parameters with the
// ones they stand in for; each defaults to its counterpart.
var verifyRouting = [][2]string{
	{"address_verify_relayhost", "relayhost"},
	{"address_verify_transport_maps", "transport_maps"},
	{"address_verify_default_transport", "default_transport"},
	{"address_verify_local_transport", "local_transport"},
	{"address_verify_virtual_transport", "virtual_transport"},
	{"address_verify_relay_transport", "relay_transport"},
}

// verifyRouter returns the router of probes: qmgr's own unless main.cf
// sets one of the address_verify_* routing parameters, which then stand
// in for their counterparts (probing the final servers directly rather
// than through a relayhost, say).
func verifyRouter(m *Manager, cfg *config.Config) (*router, error) {
	var probe *config.Config
	for _, p := range verifyRouting {
		if _, set := cfg.Raw(p[0]); !set {
			continue
		}
		if probe == nil {
			probe = cfg.Clone()
		}
		if err := probe.Set(p[1], cfg.Get(p[0])); err != nil {
			return nil, fmt.Errorf("%s: %w", p[0], err)
		}
	}
	if probe == nil {
		return m.router, nil
	}
	r, err := newRouter(probe, maps.Options{})
	if err != nil {
		return nil, fmt.Errorf("address verification routing: %w", err)
	}
	return r, nil
}

// query returns what is known of addr and starts a probe when the answer
// is missing, expired or due for a refresh.
func (v *verifier) query(addr string) (status, text string) {
	key := strings.ToLower(addr)
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	v.sweep(now)
	e := v.cache[key]
	if e == nil {
		e = &verifyEntry{}
		v.cache[key] = e
	}
	age := now.Sub(e.updated)
	expire, renew := v.set.negativeExpire, v.set.negativeRenew
	if e.status == verifyDeliverable {
		expire, renew = v.set.positiveExpire, v.set.positiveRenew
	}
	fresh := !e.updated.IsZero() && age < expire
	if (!fresh || age >= renew) && !e.probing {
		e.probing = true
		go v.probe(addr, key)
	}
	if !fresh {
		return verifyUnknown, "Address verification in progress"
	}
	return e.status, e.text
}

// sweep drops entries past their expiry, at most once per
// address_verify_cache_cleanup_interval; v.mu is held.
func (v *verifier) sweep(now time.Time) {
	if now.Before(v.nextSweep) {
		return
	}
	v.nextSweep = now.Add(max(v.set.cleanupInterval, time.Minute))
	for k, e := range v.cache {
		expire := v.set.negativeExpire
		if e.status == verifyDeliverable {
			expire = v.set.positiveExpire
		}
		if !e.probing && now.Sub(e.updated) >= expire {
			delete(v.cache, k)
			v.save(k, verifyEntry{})
		}
	}
}

// probe finds out whether addr is deliverable and records it.
func (v *verifier) probe(addr, key string) {
	v.slots <- struct{}{}
	status, text := v.run(addr)
	<-v.slots
	v.mu.Lock()
	defer v.mu.Unlock()
	e := v.cache[key]
	e.probing = false
	if status == verifyUndeliverable && !v.set.negativeCache {
		delete(v.cache, key)
		v.save(key, verifyEntry{})
		return
	}
	e.status, e.text, e.updated = status, text, time.Now()
	v.save(key, *e)
}

// run sends one probe and maps its outcome.
func (v *verifier) run(addr string) (status, text string) {
	m := v.m
	now := time.Now()
	env := &envelope.Envelope{ID: m.q.NewID(), Sender: probeSender(v.set.sender, v.set.senderTTL, now), Arrival: now, Probe: true}
	rt, err := v.router.routeFor(env, addr)
	if err != nil {
		return verifyDeferred, "transport table lookup failure"
	}
	var res agent.Result
	switch rt.transport {
	case "error":
		res = errorResult(rt.nexthop)
	case "discard":
		res = agent.Result{Status: agent.OK, Text: "discarded"}
	default:
		res = v.ask(env, addr, rt)
	}
	switch res.Status {
	case agent.OK:
		return verifyDeliverable, res.Text
	case agent.Bounce:
		return verifyUndeliverable, res.Text
	}
	return verifyDeferred, res.Text
}

// ask has the agent of rt answer a probe for addr.
func (v *verifier) ask(env *envelope.Envelope, addr string, rt route) agent.Result {
	m := v.m
	cl, err := agent.DialAgent(m.agentSocket(rt.transport), verifyTimeout)
	if err != nil {
		return agent.Deferf("4.3.0", "mail transport unavailable")
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { cl.Close() })
	defer stop()
	rcpt := envelope.Recipient{Address: addr, Original: addr}
	results, err := cl.Deliver(env, []envelope.Recipient{rcpt}, rt.transport, rt.nexthop, strings.NewReader(""))
	if err != nil || len(results) != 1 {
		return agent.Deferf("4.3.0", "lost connection with %s agent", rt.transport)
	}
	return results[0]
}

// serveVerify answers one verify request of smtpd: the address's status
// and its text.
func (m *Manager) serveVerify(c *ipc.Conn, req ipc.Record) bool {
	addr := req.Get("address")
	status, text := verifyUnknown, "no address"
	if addr != "" {
		status, text = m.verify.query(addr)
	}
	return c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: status}, {Name: attrText, Value: text}}) == nil
}

// probeSender is the sender of a probe: address_verify_sender, with, when
// address_verify_sender_ttl is set, a time-dependent part appended to its
// local part (the number of ttl periods since the epoch, in base 31, as
// Postfix writes it) so that spammers cannot harvest one fixed probe
// sender. The null sender stays null.
func probeSender(sender string, ttl time.Duration, now time.Time) string {
	if ttl <= 0 || sender == "" {
		return sender
	}
	local, domain, _ := strings.Cut(sender, "@")
	epoch := uint64(now.Unix()) / uint64(max(ttl/time.Second, 1))
	return local + strconv.FormatUint(epoch, 31) + "@" + domain
}
