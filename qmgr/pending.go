package qmgr

import "time"

// destQueue is one destination's jobs waiting for a worker, oldest
// first.
type destQueue struct {
	dest  string
	jobs  []*job
	ready bool // in the transport's ready ring
}

// pop removes and returns the oldest job.
func (q *destQueue) pop() *job {
	j := q.jobs[0]
	q.jobs[0] = nil
	q.jobs = q.jobs[1:]
	return j
}

// readyRing is the round robin of destinations that have waiting jobs and
// may be below their window: take serves them in turn, one job each, so
// that a destination with thousands of jobs takes its share and no more.
// A destination at its window leaves the ring until a job of its ends.
type readyRing struct {
	qs   []*destQueue
	head int
}

func (r *readyRing) len() int { return len(r.qs) - r.head }

// push adds q at the back.
func (r *readyRing) push(q *destQueue) {
	q.ready = true
	if r.head > 0 && r.head == len(r.qs) {
		r.qs, r.head = r.qs[:0], 0
	}
	r.qs = append(r.qs, q)
}

// pop removes and returns the front destination.
func (r *readyRing) pop() *destQueue {
	q := r.qs[r.head]
	r.qs[r.head] = nil
	r.head++
	if r.head > len(r.qs)/2 && r.head > 64 {
		r.qs = append(r.qs[:0], r.qs[r.head:]...)
		r.head = 0
	}
	q.ready = false
	return q
}

// addPending queues j under its destination; t.mu is held. It reports
// whether a destination became ready for a worker.
func (t *transport) addPending(j *job, limit int) bool {
	q := t.queues[j.dest]
	if q == nil {
		q = &destQueue{dest: j.dest}
		t.queues[j.dest] = q
	}
	q.jobs = append(q.jobs, j)
	return t.makeReady(q, limit)
}

// makeReady puts q in the ready ring when it has jobs and room in its
// window; t.mu is held. It reports whether q was added.
func (t *transport) makeReady(q *destQueue, limit int) bool {
	if q.ready || len(q.jobs) == 0 || t.busy[q.dest] >= t.window(q.dest, limit) {
		return false
	}
	if until, held := t.notBefore[q.dest]; held && time.Now().Before(until) {
		return false // the rate delay's timer makes it ready
	}
	t.ready.push(q)
	return true
}

// next returns the job to run now, or nil when no destination with
// waiting jobs is below its window; t.mu is held. The destination goes to
// the back of the ring while it has jobs and room, so destinations take
// turns.
func (t *transport) next(limit int) *job {
	if t.transportHeld() {
		return nil // holdTransport's timer wakes a worker
	}
	for t.ready.len() > 0 {
		q := t.ready.pop()
		if t.busy[q.dest] >= t.window(q.dest, limit) {
			continue // its window shrank: back in when a job ends
		}
		j := q.pop()
		t.busy[q.dest]++
		t.running++
		if len(q.jobs) == 0 {
			delete(t.queues, q.dest)
		} else {
			t.makeReady(q, limit)
		}
		return j
	}
	return nil
}
