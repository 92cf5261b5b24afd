package qmgr

import (
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// transport runs delivery jobs for one master.cf transport (local, smtp,
// ...) with up to default_process_limit workers, each keeping one
// connection to the agent, and at most the transport's destination
// concurrency limit of jobs per destination at once. Below that limit
// each destination has a window, Postfix's slow start: it begins at
// initial_destination_concurrency, grows as deliveries reach the
// destination and shrinks when they fail to, so that a dead or struggling
// destination gets few connections. Destinations with waiting jobs take
// turns, a job each, oldest first within each; one at its window waits
// out of turn, so a busy destination never holds up the others, and
// choosing the next job costs the same with one waiting job or 100,000.
type transport struct {
	s    *scheduler
	name string
	mu   sync.Mutex
	cond *sync.Cond
	// queues holds each destination's waiting jobs; ready the
	// destinations among them below their window (pending.go).
	queues  map[string]*destQueue
	ready   readyRing
	busy    map[string]int
	windows map[string]float64
	// fb is the transport's slow-start feedback (feedback.go), and
	// failCohorts each destination's failed pseudo-cohorts since it was
	// last reached: 1/window per failed job, as Postfix counts them.
	fb          feedbackSettings
	failCohorts map[string]float64
	// dead holds destinations that could not be reached even one job at
	// a time, until when, and why: their jobs are deferred without a try.
	dead map[string]deadDest
	// rateDelay is the transport's destination rate delay
	// (default_destination_rate_delay): with it a destination runs one
	// job at a time and starts the next only rateDelay after the last
	// ended, when notBefore says.
	rateDelay time.Duration
	notBefore map[string]time.Time
	// transportDelay is the transport rate delay
	// (default_transport_rate_delay): with it the transport runs one job
	// at a time, whatever its destination, and starts the next only
	// transportDelay after the last ended (nextStart). running counts the
	// jobs taken and not yet released.
	transportDelay time.Duration
	nextStart      time.Time
	running        int
	workers        int
	idle           int // workers waiting for a job
	// starting counts workers started that have not yet looked for a
	// job: they will, so a wake-up need not start another.
	starting int
	stopped  bool
	// start runs a new worker (go t.worker(); tests count instead).
	start func()
}

func newTransport(s *scheduler, name string) *transport {
	t := &transport{s: s, name: name, queues: map[string]*destQueue{}, busy: map[string]int{},
		windows: map[string]float64{}, dead: map[string]deadDest{}, notBefore: map[string]time.Time{},
		rateDelay: s.m.rateDelay(name), transportDelay: s.m.transportRateDelay(name),
		fb: s.m.feedbackSettings(name), failCohorts: map[string]float64{}}
	t.cond = sync.NewCond(&t.mu)
	t.start = func() { go t.worker() }
	return t
}

func (t *transport) enqueue(j *job) {
	limit := t.s.m.concurrencyLimit(t.name)
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.addPending(j, limit)
	t.wake()
}

// wake sees that a worker will take what is ready: a waiting one is
// signalled, else, unless one is starting, a new one is started while
// under default_process_limit; t.mu is held. Each worker that takes a job
// calls it again, so one wake-up per ready job passes along.
func (t *transport) wake() {
	switch {
	case t.ready.len() == 0:
	case t.idle > 0:
		t.cond.Signal()
	case t.starting > 0:
	case t.workers < t.s.m.settings.processLimit:
		t.workers++
		t.starting++
		t.s.running.Add(1)
		t.start()
	}
}

func (t *transport) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.cond.Broadcast()
}

// take waits for a job whose destination is below its concurrency limit.
// It returns nil when the transport stops.
func (t *transport) take() *job {
	limit := t.s.m.concurrencyLimit(t.name)
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		if t.stopped {
			return nil
		}
		if j := t.next(limit); j != nil {
			t.wake() // more may be ready: pass the wake-up on
			return j
		}
		t.idle++
		t.cond.Wait()
		t.idle--
	}
}

// window is the number of jobs dest may have at once; t.mu is held. A
// transport without a limit has no slow start either.
func (t *transport) window(dest string, limit int) int {
	if t.rateDelay > 0 {
		return 1 // Postfix: a rate delay makes the concurrency limit 1
	}
	if limit <= 0 {
		return int(^uint(0) >> 1)
	}
	w, ok := t.windows[dest]
	if !ok {
		w = t.fb.initial
	}
	return min(max(int(w), 1), limit)
}

// release ends a job and feeds its outcome back into the destination's
// window: up by the positive feedback when the destination was reached,
// down by the negative one when it was not (both 1/window by default),
// never below 1 nor above the transport's limit. Each failure also adds
// 1/window to the destination's failed cohorts; at the failed cohort
// limit (one window's worth of failures in a row, by default) the
// destination is dead, as in Postfix.
func (t *transport) release(j *job, results []agent.Result) {
	limit := t.s.m.concurrencyLimit(t.name)
	t.mu.Lock()
	defer t.mu.Unlock()
	// One waiting worker is enough: each that takes a job wakes the next
	// while more is ready (waking them all cost each a scan, per job).
	if t.releaseLocked(j, results, limit) {
		t.wake()
	}
}

// releaseLocked is release with t.mu held; it reports whether j's
// destination became ready for its next job.
func (t *transport) releaseLocked(j *job, results []agent.Result, limit int) bool {
	if limit > 0 {
		w, ok := t.windows[j.dest]
		if !ok {
			w = t.fb.initial
		}
		switch feedback(results) {
		case 1:
			w = min(w+t.fb.positive.at(w), float64(limit))
			delete(t.dead, j.dest)
			delete(t.failCohorts, j.dest)
		case -1:
			t.failed(j.dest, w, results)
			w = max(w-t.fb.negative.at(w), 1)
		}
		t.windows[j.dest] = w
	}
	t.running--
	if t.transportDelay > 0 && len(results) > 0 && !strings.HasPrefix(results[0].Text, suspendedText) {
		t.holdTransport() // after a delivery, not a job skipped or deferred unattempted
	}
	if t.busy[j.dest]--; t.busy[j.dest] <= 0 {
		delete(t.busy, j.dest)
		if t.windows[j.dest] <= t.fb.initial {
			delete(t.windows, j.dest) // back to the start: nothing to remember
		}
		if t.queues[j.dest] == nil {
			delete(t.failCohorts, j.dest) // nothing waits for it
		}
	}
	if t.rateDelay > 0 {
		t.pause(j.dest, limit)
		return false
	}
	if q := t.queues[j.dest]; q != nil {
		return t.makeReady(q, limit)
	}
	return false
}

// failed counts a job that did not reach dest, whose window is w, as
// 1/w of a failed cohort; at the transport's failed cohort limit dest is
// dead: its jobs are deferred without a try until the next queue run
// (Postfix's "delivery temporarily suspended"). Jobs deferred as
// suspended do not count. t.mu is held.
func (t *transport) failed(dest string, w float64, results []agent.Result) {
	if len(results) == 0 || strings.HasPrefix(results[0].Text, suspendedText) {
		return
	}
	c := t.failCohorts[dest] + 1/w
	if t.fb.cohortLimit > 0 && c >= t.fb.cohortLimit-1e-9 {
		t.dead[dest] = deadDest{until: time.Now().Add(t.s.m.settings.queueRunDelay), why: results[0]}
		delete(t.failCohorts, dest)
		return
	}
	t.failCohorts[dest] = c
}

// pause holds dest's next job back for the rate delay, after which the
// destination becomes ready again if jobs wait; t.mu is held.
func (t *transport) pause(dest string, limit int) {
	t.notBefore[dest] = time.Now().Add(t.rateDelay)
	time.AfterFunc(t.rateDelay, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.stopped {
			return
		}
		if until, ok := t.notBefore[dest]; ok && !time.Now().Before(until) {
			delete(t.notBefore, dest)
		}
		if q := t.queues[dest]; q != nil && t.makeReady(q, limit) {
			t.wake()
		}
	})
}

// holdTransport holds every job back for the transport rate delay, after
// which a worker is woken if jobs are ready; t.mu is held.
func (t *transport) holdTransport() {
	t.nextStart = time.Now().Add(t.transportDelay)
	time.AfterFunc(t.transportDelay, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if !t.stopped {
			t.wake()
		}
	})
}

// transportHeld reports whether the transport rate delay keeps the next
// job from starting now; t.mu is held.
func (t *transport) transportHeld() bool {
	return t.transportDelay > 0 && (t.running > 0 || time.Now().Before(t.nextStart))
}

// deadDest is a destination given up on for a while.
type deadDest struct {
	until time.Time
	why   agent.Result
}

// suspendedText starts the reason of jobs deferred for a dead destination,
// as Postfix words it.
const suspendedText = "delivery temporarily suspended: "

// suspended returns the deferral for a job to a dead destination.
func (t *transport) suspended(dest string) (agent.Result, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, ok := t.dead[dest]
	if !ok {
		return agent.Result{}, false
	}
	if time.Now().After(d.until) {
		delete(t.dead, dest)
		return agent.Result{}, false
	}
	r := agent.Deferf(d.why.DSN, "%s%s", suspendedText, d.why.Text)
	r.Relay = "none"
	return r, true
}

// feedback says whether a job reached its destination (1: a delivery or
// a reply from the server), failed to (-1: every recipient deferred for
// want of a connection or an agent), or tells nothing (0).
func feedback(results []agent.Result) int {
	unreached := 0
	for _, r := range results {
		switch {
		case r.Status == agent.OK || r.Relay != "" && r.Relay != "none":
			return 1
		case r.Status == agent.Defer && (strings.HasPrefix(r.DSN, "4.4.") || r.DSN == "4.3.0"):
			unreached++
		}
	}
	if unreached > 0 && unreached == len(results) {
		return -1
	}
	return 0
}

func (t *transport) worker() {
	defer t.s.running.Done()
	t.mu.Lock()
	t.starting--
	t.mu.Unlock()
	var cl *agent.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for {
		j := t.take()
		if j == nil {
			return
		}
		if j.msg.skip.Load() {
			t.release(j, nil)
			t.s.jobSkipped(j)
			continue
		}
		var results []agent.Result
		var logged bool
		if r, dead := t.suspended(j.dest); dead {
			results = allResults(j, r)
		} else {
			results, cl, logged = t.deliver(cl, j)
		}
		t.release(j, results)
		t.s.jobDone(j, results, logged)
	}
}

// deliver runs one job over cl (dialling when nil) and returns the results,
// the connection to keep (nil when it broke) and whether the agent gave
// (and so logged) the results; otherwise qmgr made them and logs them.
func (t *transport) deliver(cl *agent.Client, j *job) ([]agent.Result, *agent.Client, bool) {
	m := t.s.m
	if cl == nil {
		var err error
		cl, err = agent.DialAgent(m.agentSocket(t.name), m.settings.agentTimeout)
		if err != nil {
			m.log.Warnf("connect to transport private/%s: %v", t.name, err)
			return allResults(j, agent.Deferf("4.3.0", "mail transport unavailable")), nil, false
		}
	}
	content, _, err := m.q.Content(j.msg.env.ID)
	if err != nil {
		return allResults(j, agent.Deferf("4.3.0", "queue file read error: %v", err)), cl, false
	}
	defer content.Close()
	env := j.msg.env
	list := make([]envelope.Recipient, 0, len(j.idx))
	for _, i := range j.idx {
		list = append(list, env.Recipients[i])
	}
	if env.VERP != "" && len(list) == 1 {
		verp := *env
		verp.Sender = envelope.VERPSender(env.Sender, verpRecipient(list[0]), env.VERP)
		env = &verp
	}
	results, err := cl.Deliver(env, list, t.name, j.route.nexthop, content)
	if err != nil {
		cl.Close()
		m.log.Warnf("%s: lost connection with %s agent: %v", env.ID, t.name, err)
		return allResults(j, agent.Deferf("4.3.0", "lost connection with %s agent", t.name)), nil, false
	}
	return results, cl, true
}

func allResults(j *job, r agent.Result) []agent.Result {
	out := make([]agent.Result, len(j.idx))
	for i := range out {
		out[i] = r
	}
	return out
}

// verpRecipient is the address a VERP sender names: the recipient as the
// sender gave it, as Postfix encodes it.
func verpRecipient(rc envelope.Recipient) string {
	if rc.Original != "" {
		return rc.Original
	}
	return rc.Address
}
