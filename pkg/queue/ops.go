package queue

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tern-mta/tern/pkg/envelope"
)

// Bucket names; each state also has an index bucket of its own name.
const (
	bktEnv     = "env"     // id -> JSON envelope
	bktState   = "state"   // id -> state
	bktContent = "content" // id -> inline content
	bktDue     = "due"     // NextAttempt (8 bytes BE unixnano) + id -> empty
	bktMeta    = "meta"    // "count/<state>" -> 8 bytes BE count
)

// allBuckets names every bucket, the per-state indexes included.
func allBuckets() []string {
	names := []string{bktEnv, bktState, bktContent, bktDue, bktMeta}
	for _, s := range States() {
		names = append(names, string(s))
	}
	return names
}

// bucket returns the named bucket, which Open created.
func bucket(tx *bolt.Tx, name string) *bolt.Bucket { return tx.Bucket([]byte(name)) }

// dueKey is the due-index key of a message deferred until t.
func dueKey(t time.Time, id string) []byte {
	var stamp uint64
	switch {
	case t.IsZero() || t.Unix() < 0:
		stamp = 0
	case t.Unix() >= math.MaxInt64/int64(time.Second):
		stamp = math.MaxInt64
	default:
		stamp = uint64(t.UnixNano())
	}
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, stamp)
	return append(k, id...)
}

// countKey is the meta key of the number of messages in s.
func countKey(s State) []byte { return []byte("count/" + string(s)) }

// addCount adds delta to the count of messages in s.
func addCount(tx *bolt.Tx, s State, delta int64) error {
	b := bucket(tx, bktMeta)
	var n int64
	if v := b.Get(countKey(s)); len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n = max(n+delta, 0)
	v := make([]byte, 8)
	binary.BigEndian.PutUint64(v, uint64(n))
	return b.Put(countKey(s), v)
}

// place puts id into state s: state record, index, count, due index.
func place(tx *bolt.Tx, id string, s State, next time.Time) error {
	if err := bucket(tx, bktState).Put([]byte(id), []byte(s)); err != nil {
		return err
	}
	if err := bucket(tx, string(s)).Put([]byte(id), nil); err != nil {
		return err
	}
	if s == Deferred {
		if err := bucket(tx, bktDue).Put(dueKey(next, id), nil); err != nil {
			return err
		}
	}
	return addCount(tx, s, 1)
}

// unplace takes id out of state s (its index, count and due index).
func unplace(tx *bolt.Tx, id string, s State, next time.Time) error {
	if !s.valid() {
		return nil
	}
	if err := bucket(tx, string(s)).Delete([]byte(id)); err != nil {
		return err
	}
	if s == Deferred {
		if err := bucket(tx, bktDue).Delete(dueKey(next, id)); err != nil {
			return err
		}
	}
	return addCount(tx, s, -1)
}

// stored is the part of a stored envelope that the index needs.
type stored struct {
	Next time.Time `json:"next"`
	Size int64     `json:"size"`
}

// lookup returns id's stored state and index fields; ErrNotFound if there
// is no such message. The envelope is decoded only when full is set or
// the message is deferred (its due index entry is keyed by its next
// attempt): a removal after delivery costs no JSON decoding.
func lookup(tx *bolt.Tx, id string, full bool) (State, stored, error) {
	var st stored
	raw := bucket(tx, bktEnv).Get([]byte(id))
	if raw == nil {
		return "", st, fmt.Errorf("queue id %s: %w", id, ErrNotFound)
	}
	state := State(bucket(tx, bktState).Get([]byte(id)))
	if full || state == Deferred {
		// An undecodable envelope leaves st zero: it can still be
		// replaced or deleted, and Recover rebuilds the due index.
		_ = json.Unmarshal(raw, &st)
	}
	return state, st, nil
}

// Commit stores a new message durably: env in state with d's content.
// It assigns env.ID if empty (a given ID must satisfy ValidID and be
// unused), sets env.Size and, if zero, env.Arrival. It returns after the
// envelope and content are on stable storage; concurrent commits share
// one transaction. ctx bounds only the wait to join a batch. d is used
// up: on failure its content is removed.
func (q *Queue) Commit(ctx context.Context, env *envelope.Envelope, d *Draft, state State) error {
	if err := q.checkCommit(env, d, state); err != nil {
		_ = d.Abort()
		return err
	}
	release, err := q.reserve(env.ID)
	if err != nil {
		_ = d.Abort()
		return err
	}
	defer release()
	env.Size = d.Size()
	if env.Arrival.IsZero() {
		env.Arrival = time.Now()
	}
	raw, err := json.Marshal(env)
	if err != nil {
		_ = d.Abort()
		return fmt.Errorf("encode envelope %s: %w", env.ID, err)
	}
	inline, path, err := d.finish(env.ID)
	if err != nil {
		return fmt.Errorf("commit %s: %w", env.ID, err)
	}
	r := &request{
		apply:   insertOp(env.ID, raw, inline, path == "", state, env.NextAttempt),
		dirSync: path != "",
	}
	err = q.submit(ctx, r)
	d.recycle() // the transaction has copied the inline content, or is over
	if err != nil {
		if path != "" {
			_ = os.Remove(path)
		}
		return fmt.Errorf("commit %s: %w", env.ID, err)
	}
	return nil
}

// checkCommit validates Commit's arguments and assigns the id.
func (q *Queue) checkCommit(env *envelope.Envelope, d *Draft, state State) error {
	switch {
	case env == nil || d == nil:
		return errors.New("commit: nil envelope or draft")
	case d.q != q:
		return errors.New("commit: draft belongs to another queue")
	case !state.valid():
		return fmt.Errorf("commit: invalid queue state %q", state)
	}
	if env.ID == "" {
		env.ID = q.NewID()
	} else if !ValidID(env.ID) {
		return fmt.Errorf("commit: invalid queue id %q", env.ID)
	}
	return nil
}

// insertOp stores a new message.
func insertOp(id string, raw, inline []byte, isInline bool, s State, next time.Time) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		key := []byte(id)
		if bucket(tx, bktEnv).Get(key) != nil {
			return reject(fmt.Errorf("queue id %s: %w", id, ErrExists))
		}
		if err := bucket(tx, bktEnv).Put(key, raw); err != nil {
			return fmt.Errorf("store envelope %s: %w", id, err)
		}
		if isInline {
			if err := putContent(tx, id, inline); err != nil {
				return fmt.Errorf("store content %s: %w", id, err)
			}
		}
		if err := place(tx, id, s, next); err != nil {
			return fmt.Errorf("index %s: %w", id, err)
		}
		return nil
	}
}

// Update durably stores env over the message with the same ID and moves
// it to state. env.Size is kept from the stored envelope (the content
// does not change). ErrNotFound if there is no such message.
func (q *Queue) Update(ctx context.Context, env *envelope.Envelope, state State) error {
	if env == nil || !ValidID(env.ID) {
		return errors.New("update: missing or invalid queue id")
	}
	if !state.valid() {
		return fmt.Errorf("update %s: invalid queue state %q", env.ID, state)
	}
	r := &request{apply: func(tx *bolt.Tx) error { return updateTx(tx, env, state) }}
	if err := q.submit(ctx, r); err != nil {
		return fmt.Errorf("update %s: %w", env.ID, err)
	}
	return nil
}

// updateTx is Update's change in the batch transaction.
func updateTx(tx *bolt.Tx, env *envelope.Envelope, state State) error {
	old, st, err := lookup(tx, env.ID, true)
	if err != nil {
		return reject(err)
	}
	env.Size = st.Size
	raw, err := json.Marshal(env)
	if err != nil {
		return reject(fmt.Errorf("encode envelope: %w", err))
	}
	if err := unplace(tx, env.ID, old, st.Next); err != nil {
		return fmt.Errorf("unindex: %w", err)
	}
	if err := bucket(tx, bktEnv).Put([]byte(env.ID), raw); err != nil {
		return fmt.Errorf("store envelope: %w", err)
	}
	if err := place(tx, env.ID, state, env.NextAttempt); err != nil {
		return fmt.Errorf("index: %w", err)
	}
	return nil
}

// Delete durably removes a message: envelope, indexes and content (a
// content file is removed after the commit). ErrNotFound if absent.
func (q *Queue) Delete(ctx context.Context, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("delete: invalid queue id %q", id)
	}
	r := q.deleteRequest(id)
	if err := q.submit(ctx, r); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// DeleteLater removes a message as Delete does, without waiting for the
// commit: the removal joins the next batch that a durable write starts,
// or is committed on its own after LazyDelay, as a lost removal only
// means a second delivery (Postfix does not fsync its unlinks either).
// done, when not nil, gets the outcome on the committer's goroutine and
// must not block. The error is about submitting: ErrClosed once the queue
// is closed.
func (q *Queue) DeleteLater(id string, done func(error)) error {
	if !ValidID(id) {
		return fmt.Errorf("delete: invalid queue id %q", id)
	}
	r := q.deleteRequest(id)
	r.lazy, r.notify, r.done = true, done, make(chan error, 1)
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	q.reqs <- r
	return nil
}

// deleteRequest is the committer's request that removes message id; its
// content file, if the content was not inline, once the removal commits.
func (q *Queue) deleteRequest(id string) *request {
	var inline bool
	return &request{
		apply: func(tx *bolt.Tx) (err error) {
			inline, err = deleteTx(tx, id)
			return err
		},
		after: func() {
			if !inline {
				_ = os.Remove(q.contentPath(id))
			}
		},
	}
}

// deleteTx is Delete's change in the batch transaction. inline reports
// whether the content was in the database, so that there is no file to
// remove (two failed unlink calls per message otherwise).
func deleteTx(tx *bolt.Tx, id string) (inline bool, err error) {
	old, st, err := lookup(tx, id, false)
	if err != nil {
		return false, reject(err)
	}
	if err := unplace(tx, id, old, st.Next); err != nil {
		return false, fmt.Errorf("unindex: %w", err)
	}
	key := []byte(id)
	for _, b := range []string{bktEnv, bktState} {
		if err := bucket(tx, b).Delete(key); err != nil {
			return false, fmt.Errorf("delete from %s: %w", b, err)
		}
	}
	if inline, err = deleteContent(tx, id); err != nil {
		return false, fmt.Errorf("delete content: %w", err)
	}
	return inline, nil
}
