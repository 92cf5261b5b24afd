package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// request is one write for the committer.
type request struct {
	// apply makes the change inside the batch's transaction. It returns a
	// *rejectError, having written nothing, when the change can't be made
	// (e.g. the id is unknown); other errors abort the transaction.
	apply func(tx *bolt.Tx) error
	// after runs once the transaction is durable (e.g. to remove a file).
	after func()
	// dirSync asks for the content directory to be fsynced before the
	// transaction, because the request names a file just renamed into it.
	dirSync bool
	// lazy requests need not be durable at once (a removal: if it is
	// lost, the message is delivered again): they wait up to LazyDelay
	// for a batch that a durable request starts, instead of costing an
	// fsync of their own.
	lazy bool
	// notify, when set, receives the outcome in place of a waiting
	// caller.
	notify func(error)
	done   chan error

	err      error // outcome, set by the committer
	live     bool  // still part of the batch
	rejected bool  // failed on its own in the last attempt
}

// rejectError is a request's own failure, which leaves the rest of its
// batch unaffected.
type rejectError struct{ err error }

func (e *rejectError) Error() string { return e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

// reject wraps err as a request's own failure.
func reject(err error) error { return &rejectError{err: err} }

// submit hands r to the committer and waits for its outcome. ctx bounds
// only the wait to join a batch: once submitted, the request is waited for
// so that the result reported is the true one.
func (q *Queue) submit(ctx context.Context, r *request) error {
	r.done = make(chan error, 1)
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		return ErrClosed
	}
	select {
	case q.reqs <- r:
	case <-ctx.Done():
		q.mu.RUnlock()
		return fmt.Errorf("wait for queue commit: %w", ctx.Err())
	}
	q.mu.RUnlock()
	return <-r.done
}

// run is the committer: it gathers requests into batches, each committed
// in one transaction, until reqs is closed and drained.
func (q *Queue) run() {
	defer close(q.done)
	for {
		first, ok := <-q.reqs
		if !ok {
			return
		}
		batch := []*request{first}
		more := true
		if first.lazy {
			batch, more = q.awaitDurable(batch)
		}
		if more {
			batch, more = q.gather(batch)
		}
		q.commit(batch)
		if !more {
			return
		}
	}
}

// awaitDurable holds a batch of lazy requests until a durable request
// joins it or LazyDelay passes. more is false once reqs is closed.
func (q *Queue) awaitDurable(batch []*request) ([]*request, bool) {
	return q.collect(batch, q.opt.LazyDelay, true)
}

// gather adds requests to batch until CommitDelay has passed (at once
// when it is negative: only what is already waiting) or MaxBatch is
// reached. more is false once reqs is closed.
func (q *Queue) gather(batch []*request) ([]*request, bool) {
	return q.collect(batch, q.opt.CommitDelay, false)
}

// collect adds requests to batch for up to wait (a negative wait takes
// only those already queued), until MaxBatch, or, with untilDurable,
// until a durable request joins. more is false once reqs is closed.
func (q *Queue) collect(batch []*request, wait time.Duration, untilDurable bool) (_ []*request, more bool) {
	var expired <-chan time.Time
	if wait >= 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		expired = timer.C
	}
	for len(batch) < q.opt.MaxBatch {
		if expired == nil {
			select {
			case r, ok := <-q.reqs:
				if !ok {
					return batch, false
				}
				batch = append(batch, r)
			default:
				return batch, true
			}
			continue
		}
		select {
		case r, ok := <-q.reqs:
			if !ok {
				return batch, false
			}
			batch = append(batch, r)
			if untilDurable && !r.lazy {
				return batch, true
			}
		case <-expired:
			return batch, true
		}
	}
	return batch, true
}

// commit runs batch in one transaction and reports every outcome. A
// request whose apply fails with a non-reject error is dropped and the
// rest retried, so one bad request can't fail the others; a failure of
// the commit itself (e.g. disk full) is reported to all.
func (q *Queue) commit(batch []*request) {
	for _, r := range batch {
		r.live = true
	}
	q.syncContentDir(batch)
	for attempt := 0; attempt <= len(batch); attempt++ {
		failed, err := q.tryCommit(batch)
		if err == nil || failed == nil {
			q.finish(batch, err)
			return
		}
		failed.err, failed.live = err, false
		for _, r := range batch {
			if r.rejected {
				r.err, r.live, r.rejected = nil, true, false // re-evaluate
			}
		}
	}
	q.finish(batch, errors.New("queue commit: too many retries"))
}

// syncContentDir fsyncs the content directory once for the batch's
// requests that name new files; they fail if it can't be synced.
func (q *Queue) syncContentDir(batch []*request) {
	need := false
	for _, r := range batch {
		need = need || r.dirSync
	}
	if !need {
		return
	}
	if err := q.syncDir(q.contentDir); err != nil {
		for _, r := range batch {
			if r.dirSync {
				r.err, r.live = err, false
			}
		}
	}
}

// tryCommit runs the live requests in one transaction. If a request's
// apply failed with a non-reject error, it is returned as failed.
func (q *Queue) tryCommit(batch []*request) (failed *request, err error) {
	q.txs.Add(1)
	err = q.db.Update(func(tx *bolt.Tx) error {
		for _, r := range batch {
			if !r.live {
				continue
			}
			aerr := r.apply(tx)
			var rej *rejectError
			switch {
			case aerr == nil:
			case errors.As(aerr, &rej):
				r.err, r.live, r.rejected = rej.err, false, true
			default:
				failed = r
				return aerr
			}
		}
		return nil
	})
	if err != nil {
		return failed, fmt.Errorf("queue commit: %w", err)
	}
	return nil, nil
}

// finish reports the outcome to every request of the batch: err to those
// still live (nil on success, then their after hooks run), their own
// error to the others.
func (q *Queue) finish(batch []*request, err error) {
	for _, r := range batch {
		if r.live {
			r.err = err
			if err == nil {
				q.commits.Add(1)
				if r.after != nil {
					r.after()
				}
			}
		}
		r.done <- r.err
		if r.notify != nil {
			r.notify(r.err)
		}
	}
}
