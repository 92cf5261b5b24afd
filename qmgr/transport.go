package qmgr

import (
	"sync"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// transport runs delivery jobs for one master.cf transport (local, smtp,
// ...) with up to default_process_limit workers, each keeping one
// connection to the agent, and at most the transport's destination
// concurrency limit of jobs per destination at once.
type transport struct {
	s       *scheduler
	name    string
	mu      sync.Mutex
	cond    *sync.Cond
	pending []*job
	busy    map[string]int
	workers int
	idle    int
	stopped bool
}

func newTransport(s *scheduler, name string) *transport {
	t := &transport{s: s, name: name, busy: map[string]int{}}
	t.cond = sync.NewCond(&t.mu)
	return t
}

func (t *transport) enqueue(j *job) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return
	}
	t.pending = append(t.pending, j)
	if t.idle == 0 && t.workers < t.s.m.settings.processLimit {
		t.workers++
		t.s.running.Add(1)
		go t.worker()
	}
	t.cond.Signal()
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
		for i, j := range t.pending {
			if limit <= 0 || t.busy[j.dest] < limit {
				t.pending = append(t.pending[:i], t.pending[i+1:]...)
				t.busy[j.dest]++
				return j
			}
		}
		t.idle++
		t.cond.Wait()
		t.idle--
	}
}

func (t *transport) release(j *job) {
	t.mu.Lock()
	if t.busy[j.dest]--; t.busy[j.dest] <= 0 {
		delete(t.busy, j.dest)
	}
	t.mu.Unlock()
	t.cond.Broadcast()
}

func (t *transport) worker() {
	defer t.s.running.Done()
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
		var results []agent.Result
		results, cl = t.deliver(cl, j)
		t.release(j)
		t.s.jobDone(j, results)
	}
}

// deliver runs one job over cl (dialling when nil) and returns the results
// and the connection to keep, nil when it broke.
func (t *transport) deliver(cl *agent.Client, j *job) ([]agent.Result, *agent.Client) {
	m := t.s.m
	if cl == nil {
		var err error
		cl, err = agent.DialAgent(m.agentSocket(t.name), m.settings.agentTimeout)
		if err != nil {
			m.log.Warnf("connect to transport private/%s: %v", t.name, err)
			return allResults(j, agent.Deferf("4.3.0", "mail transport unavailable")), nil
		}
	}
	content, _, err := m.q.Content(j.msg.env.ID)
	if err != nil {
		return allResults(j, agent.Deferf("4.3.0", "queue file read error: %v", err)), cl
	}
	defer content.Close()
	env := j.msg.env
	list := make([]envelope.Recipient, 0, len(j.idx))
	for _, i := range j.idx {
		list = append(list, env.Recipients[i])
	}
	results, err := cl.Deliver(env, list, t.name, j.route.nexthop, content)
	if err != nil {
		cl.Close()
		m.log.Warnf("%s: lost connection with %s agent: %v", env.ID, t.name, err)
		return allResults(j, agent.Deferf("4.3.0", "lost connection with %s agent", t.name)), nil
	}
	return results, cl
}

func allResults(j *job, r agent.Result) []agent.Result {
	out := make([]agent.Result, len(j.idx))
	for i := range out {
		out[i] = r
	}
	return out
}
