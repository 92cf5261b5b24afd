package qmgr

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/dsn"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/postsuper"
	"github.com/tern-mta/tern/pkg/queue"
)

// scheduler moves messages from the queue to the delivery agents. Messages
// being delivered are "active" in memory only: the database keeps them in
// incoming or deferred, so a crash simply makes them eligible again
// (at-least-once delivery) and the hot path costs no extra commit.
type scheduler struct {
	m *Manager
	// activeLimit is qmgr_message_active_limit: the most messages in
	// delivery at once; more wait in the queue.
	activeLimit int
	mu          sync.Mutex
	fresh       []*envelope.Envelope // committed, not yet activated
	active      map[string]*activeMsg
	backlog     bool // incoming messages were left in the queue at the active limit
	wake        chan struct{}
	flush       chan struct{}
	flushSome   chan flushFilter // postqueue -i and -s: part of the queue
	pickupKick  chan struct{}
	transports  map[string]*transport
	running     sync.WaitGroup
	// claimed holds the ids an administrator's queue operation is
	// changing in the database; they are not activated meanwhile, and
	// the channel closes when the operation is done (admin.go).
	claimed map[string]chan struct{}
}

// activeMsg is a message with deliveries in progress.
type activeMsg struct {
	mu      sync.Mutex
	env     *envelope.Envelope
	started time.Time
	jobs    int // delivery jobs not yet finished
	// flushed says a flush activated the message: defer_transports
	// do not hold it back.
	flushed bool
	// admin is the queue operation an administrator asked for while
	// the message was active, carried out when its pass ends; settling
	// is set when the pass ends, after which admin no longer changes.
	// Both are guarded by the scheduler's mu.
	admin    postsuper.Op
	settling bool
	// skip tells workers not to start the message's remaining jobs (it
	// is being deleted or held).
	skip atomic.Bool
	// gone is closed once the scheduler has forgotten the message.
	gone chan struct{}
	// traces gathers the report that sendmail -bv or -v asked for
	// (env.Trace) during the pass; guarded by mu.
	traces []dsn.RecipientReport
}

// job is one delivery request: recipients of one message for one route.
type job struct {
	msg   *activeMsg
	idx   []int // indexes into msg.env.Recipients
	route route
	dest  string // concurrency key within the transport
}

// activeLimitDefault is Postfix's qmgr_message_active_limit default.
const activeLimitDefault = 20000

func newScheduler(m *Manager) *scheduler {
	limit := m.settings.activeLimit
	if limit <= 0 {
		limit = activeLimitDefault
	}
	return &scheduler{
		m:           m,
		activeLimit: limit,
		active:      map[string]*activeMsg{},
		wake:        make(chan struct{}, 1),
		flush:       make(chan struct{}, 1),
		flushSome:   make(chan flushFilter, 16),
		pickupKick:  make(chan struct{}, 1),
		transports:  map[string]*transport{},
		claimed:     map[string]chan struct{}{},
	}
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// submit hands a freshly committed message to the scheduler.
func (s *scheduler) submit(env *envelope.Envelope) {
	s.mu.Lock()
	s.fresh = append(s.fresh, env)
	s.mu.Unlock()
	kick(s.wake)
}

// run is the scheduling loop. It returns when ctx is cancelled and every
// delivery in progress has finished.
func (s *scheduler) run(ctx context.Context) {
	s.loadState(queue.Incoming)
	s.loadDue(time.Now())
	timer := time.NewTimer(s.nextWake())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.stopTransports()
			s.running.Wait()
			return
		case <-s.wake:
		case <-s.flush:
			s.loadFlushed()
		case f := <-s.flushSome:
			s.loadMatching(f)
		case <-timer.C:
			s.loadDue(time.Now())
		}
		s.activateFresh()
		if s.takeBacklog() {
			s.loadState(queue.Incoming)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(s.nextWake())
	}
}

// nextWake is when deferred mail next falls due, at most queue_run_delay away.
func (s *scheduler) nextWake() time.Duration {
	d := s.m.settings.queueRunDelay
	if d <= 0 {
		d = 5 * time.Minute
	}
	if t, ok := s.m.q.NextDue(); ok {
		if until := time.Until(t); until < d {
			d = until
		}
	}
	if d < 10*time.Millisecond {
		d = 10 * time.Millisecond
	}
	return d
}

func (s *scheduler) takeBacklog() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.backlog && len(s.active) < s.activeLimit/2
	if b {
		s.backlog = false
	}
	return b
}

// loadState activates every message in state that is not active yet.
// Active and claimed messages are passed over without counting against
// the active limit, so that a scan after a backlog finds the waiting
// ones even when those in delivery come first.
func (s *scheduler) loadState(state queue.State) {
	var envs []*envelope.Envelope
	err := s.m.q.Walk(state, func(env *envelope.Envelope) error {
		if s.busy(env.ID) {
			return nil
		}
		envs = append(envs, env)
		if len(envs) >= s.activeLimit {
			return queue.ErrStop
		}
		return nil
	})
	if err != nil {
		s.m.log.Errorf("scan %s queue: %v", state, err)
	}
	if len(envs) >= s.activeLimit && state == queue.Incoming {
		// More may wait behind the scan's limit: take them in when the
		// active set has room again.
		s.mu.Lock()
		s.backlog = true
		s.mu.Unlock()
	}
	for _, env := range envs {
		s.activate(env, state, false)
	}
}

// loadFlushed activates the deferred mail for a flush (sendmail -q).
func (s *scheduler) loadFlushed() {
	var envs []*envelope.Envelope
	err := s.m.q.Walk(queue.Deferred, func(env *envelope.Envelope) error {
		envs = append(envs, env)
		if len(envs) >= s.activeLimit {
			return queue.ErrStop
		}
		return nil
	})
	if err != nil {
		s.m.log.Errorf("scan %s queue: %v", queue.Deferred, err)
	}
	for _, env := range envs {
		s.activateAs(env, queue.Deferred, false, true)
	}
}

// busy reports whether message id is active or claimed.
func (s *scheduler) busy(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, active := s.active[id]
	_, claimed := s.claimed[id]
	return active || claimed
}

// flushFilter names the mail a partial flush makes due: one message
// (postqueue -i, sendmail -qI) or the deferred mail with a recipient in
// a domain or its subdomains (postqueue -s, sendmail -qR).
type flushFilter struct {
	id, site string
}

// loadMatching activates the messages that f names.
func (s *scheduler) loadMatching(f flushFilter) {
	if f.id != "" {
		env, state, err := s.m.q.Get(f.id)
		if err == nil && (state == queue.Deferred || state == queue.Incoming) {
			s.activateAs(env, state, false, true)
		}
		return
	}
	site := strings.ToLower(strings.Trim(f.site, "[]."))
	var envs []*envelope.Envelope
	err := s.m.q.Walk(queue.Deferred, func(env *envelope.Envelope) error {
		if hasRecipientIn(env, site) {
			envs = append(envs, env)
		}
		if len(envs) >= s.activeLimit {
			return queue.ErrStop
		}
		return nil
	})
	if err != nil {
		s.m.log.Errorf("scan deferred queue: %v", err)
	}
	for _, env := range envs {
		s.activateAs(env, queue.Deferred, false, true)
	}
}

// hasRecipientIn reports whether env has a recipient still to deliver in
// domain site or a subdomain of it.
func hasRecipientIn(env *envelope.Envelope, site string) bool {
	for _, rc := range env.Recipients {
		if rc.Status != envelope.Pending {
			continue
		}
		_, domain := splitAddr(rc.Address)
		domain = strings.ToLower(domain)
		if domain == site || strings.HasSuffix(domain, "."+site) {
			return true
		}
	}
	return false
}

// loadDue activates deferred messages whose retry time has come.
func (s *scheduler) loadDue(now time.Time) {
	var envs []*envelope.Envelope
	err := s.m.q.Due(now, s.activeLimit, func(env *envelope.Envelope) error {
		envs = append(envs, env)
		return nil
	})
	if err != nil {
		s.m.log.Errorf("scan deferred queue: %v", err)
	}
	for _, env := range envs {
		s.activate(env, queue.Deferred, false)
	}
}

func (s *scheduler) activateFresh() {
	s.mu.Lock()
	fresh := s.fresh
	s.fresh = nil
	s.mu.Unlock()
	for _, env := range fresh {
		s.activate(env, queue.Incoming, true)
	}
}

// activate resolves a message's pending recipients and queues its jobs.
// fresh marks env as the one cleanup has just committed.
func (s *scheduler) activate(env *envelope.Envelope, state queue.State, fresh bool) {
	s.activateAs(env, state, fresh, false)
}

// activateAs is activate; flushed marks a message that a flush asked for.
func (s *scheduler) activateAs(env *envelope.Envelope, state queue.State, fresh, flushed bool) {
	s.mu.Lock()
	if _, busy := s.active[env.ID]; busy {
		s.mu.Unlock()
		return
	}
	if _, claimed := s.claimed[env.ID]; claimed {
		s.mu.Unlock()
		return
	}
	if len(s.active) >= s.activeLimit {
		s.backlog = true
		s.mu.Unlock()
		return
	}
	msg := &activeMsg{env: env, started: time.Now(), gone: make(chan struct{}), flushed: flushed}
	env.Activated = msg.started
	s.active[env.ID] = msg
	s.mu.Unlock()
	cur, ok := s.current(env, state, fresh)
	if !ok {
		s.forget(msg)
		return
	}
	msg.env = cur

	jobs, immediate := s.plan(msg)
	msg.mu.Lock()
	msg.jobs = len(jobs)
	for _, r := range immediate {
		s.m.record(msg, r.idx, r.res, false)
	}
	msg.mu.Unlock()
	if len(jobs) == 0 {
		s.finish(msg)
		return
	}
	for _, j := range jobs {
		s.transportFor(j.route.transport).enqueue(j)
	}
}

// immediateResult is a recipient decided without a delivery agent.
type immediateResult struct {
	idx int
	res agent.Result
}

// current returns the database's copy of env, if it is still in state: a
// scan may hand over a copy that a delivery pass finished since, and a
// scan may have delivered a fresh message before it was activated. A
// pass ends by removing its message or moving it to the deferred queue,
// so a fresh message still incoming is as cleanup committed it: its state
// is read, not its envelope.
func (s *scheduler) current(env *envelope.Envelope, state queue.State, fresh bool) (*envelope.Envelope, bool) {
	if fresh {
		cur, err := s.m.q.StateOf(env.ID)
		return env, err == nil && cur == state
	}
	cur, curState, err := s.m.q.Get(env.ID)
	return cur, err == nil && curState == state
}

// plan groups pending recipients into jobs by route, honouring the
// transport's recipient limit; routes that need no agent (error, discard,
// lookup failures) are decided at once.
func (s *scheduler) plan(msg *activeMsg) ([]*job, []immediateResult) {
	var jobs []*job
	var now []immediateResult
	open := map[route]*job{}
	for _, i := range msg.env.Pending() {
		rc := msg.env.Recipients[i]
		rt, err := s.m.router.routeFor(msg.env, rc.Address)
		switch {
		case err != nil:
			now = append(now, immediateResult{i, agent.Deferf("4.3.0", "transport table lookup failure: %v", err)})
			continue
		case rt.transport == "error":
			now = append(now, immediateResult{i, errorResult(rt.nexthop)})
			continue
		case rt.transport == "discard":
			now = append(now, immediateResult{i, agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "discarded: " + rt.nexthop, Relay: "none"}})
			continue
		case s.m.settings.deferTransports[rt.transport] && !msg.flushed:
			now = append(now, immediateResult{i, agent.Result{Status: agent.Defer, DSN: "4.3.2", Text: "deferred transport", Relay: "none"}})
			continue
		}
		limit := s.m.recipientLimit(rt.transport)
		if msg.env.VERP != "" {
			limit = 1 // each recipient has a sender of its own
		}
		key := rt
		if rt.transport == "local" {
			// local(8) concurrency is per recipient.
			key.nexthop = rt.nexthop + "\x00" + rc.Address
		}
		j := open[key]
		if j == nil || (limit > 0 && len(j.idx) >= limit) {
			j = &job{msg: msg, route: rt, dest: key.nexthop}
			jobs = append(jobs, j)
			open[key] = j
		}
		j.idx = append(j.idx, i)
	}
	return jobs, now
}

// errorResult is the outcome of the error(8) transport: "error:5.1.1 text"
// style next hops carry their own status.
func errorResult(text string) agent.Result {
	dsn := "5.0.0"
	if len(text) > 5 && (text[0] == '4' || text[0] == '5') && text[1] == '.' {
		if sp := indexSpace(text); sp > 0 {
			dsn, text = text[:sp], text[sp+1:]
		}
	}
	if text == "" {
		text = "mail delivery disabled"
	}
	st := agent.Bounce
	if dsn[0] == '4' {
		st = agent.Defer
	}
	return agent.Result{Status: st, DSN: dsn, Text: text, Relay: "none"}
}

func indexSpace(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return i
		}
	}
	return -1
}

// recipientLimit is transport_destination_recipient_limit, as Postfix
// reads it for any transport name, else the default.
func (m *Manager) recipientLimit(transport string) int {
	def := m.settings.defaultRecipientLimit
	if transport == "local" {
		def = m.settings.localRecipientLimit
	}
	return m.transportLimit(transport+"_destination_recipient_limit", def)
}

// concurrencyLimit is transport_destination_concurrency_limit, else the
// default.
func (m *Manager) concurrencyLimit(transport string) int {
	def := m.settings.defaultConcurrency
	if transport == "local" {
		def = m.settings.localConcurrency
	}
	return m.transportLimit(transport+"_destination_concurrency_limit", def)
}

// rateDelay is transport_destination_rate_delay, else
// default_destination_rate_delay: the pause between deliveries to one
// destination.
func (m *Manager) rateDelay(transport string) time.Duration {
	return m.transportDelay(transport, "destination_rate_delay")
}

// transportRateDelay is transport_transport_rate_delay, else
// default_transport_rate_delay: the pause between deliveries over the
// transport, whatever their destination.
func (m *Manager) transportRateDelay(transport string) time.Duration {
	return m.transportDelay(transport, "transport_rate_delay")
}

// transportDelay reads transport_suffix, else default_suffix. A bad
// value is warned about and taken as the default.
func (m *Manager) transportDelay(transport, suffix string) time.Duration {
	def := time.Duration(0)
	if m.cfg == nil {
		return def
	}
	def = m.cfg.Duration("default_" + suffix)
	name := transport + "_" + suffix
	v := m.cfg.Get(name)
	if v == "" {
		return def
	}
	d, err := config.ParseDuration(v, "s")
	if err != nil || d < 0 {
		m.log.Warnf("%s = %s: not a time; using %s", name, v, def)
		return def
	}
	return d
}

// transportLimit reads a per-transport limit once and remembers it; an
// unset or unreadable one is def.
func (m *Manager) transportLimit(name string, def int) int {
	if m.cfg == nil {
		return def
	}
	m.limitsMu.Lock()
	defer m.limitsMu.Unlock()
	if v, ok := m.limits[name]; ok {
		return v
	}
	n := def
	if v := m.cfg.Get(name); v != "" {
		if parsed, err := strconv.Atoi(v); err == nil && parsed >= 0 {
			n = parsed
		} else {
			m.log.Warnf("%s = %s: not a number; using %d", name, v, def)
		}
	}
	if m.limits == nil {
		m.limits = map[string]int{}
	}
	m.limits[name] = n
	return n
}

// jobDone is called by a transport worker with a job's results; logged
// says the agent has logged them already.
func (s *scheduler) jobDone(j *job, results []agent.Result, logged bool) {
	msg := j.msg
	msg.mu.Lock()
	for k, i := range j.idx {
		s.m.record(msg, i, results[k], logged)
	}
	msg.jobs--
	last := msg.jobs == 0
	msg.mu.Unlock()
	if last {
		s.finish(msg)
	}
}

// jobSkipped is called by a transport worker for a job it did not run
// because an administrator deleted or held its message.
func (s *scheduler) jobSkipped(j *job) {
	msg := j.msg
	msg.mu.Lock()
	msg.jobs--
	last := msg.jobs == 0
	msg.mu.Unlock()
	if last {
		s.finish(msg)
	}
}

// finish settles a message whose jobs are all done, as an administrator
// asked while it was active or else by its results, and forgets it once
// the queue is updated.
func (s *scheduler) finish(msg *activeMsg) {
	s.mu.Lock()
	msg.settling = true
	op := msg.admin
	s.mu.Unlock()
	forget := func() { s.forget(msg) }
	if op == postsuper.Delete {
		s.m.removeByAdmin(msg.env.ID, forget)
		return
	}
	s.m.settle(msg, forget, op)
}

// forget drops msg from the active set.
func (s *scheduler) forget(msg *activeMsg) {
	s.mu.Lock()
	delete(s.active, msg.env.ID)
	backlog := s.backlog
	s.mu.Unlock()
	close(msg.gone)
	if backlog {
		kick(s.wake)
	}
}

func (s *scheduler) transportFor(name string) *transport {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.transports[name]
	if t == nil {
		t = newTransport(s, name)
		s.transports[name] = t
	}
	return t
}

func (s *scheduler) stopTransports() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.transports {
		t.stop()
	}
}
