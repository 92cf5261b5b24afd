package queue

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tern-mta/tern/pkg/envelope"
)

// walkChunk is how many envelopes a walk reads per read transaction.
const walkChunk = 128

// contentPath is the file name of id's content when it is not inline.
func (q *Queue) contentPath(id string) string { return filepath.Join(q.contentDir, id) }

// Get returns the envelope of id and its state; ErrNotFound if absent.
func (q *Queue) Get(id string) (*envelope.Envelope, State, error) {
	if !ValidID(id) {
		return nil, "", fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	var env *envelope.Envelope
	var state State
	err := q.db.View(func(tx *bolt.Tx) error {
		raw := bucket(tx, bktEnv).Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("queue id %s: %w", id, ErrNotFound)
		}
		state = State(bucket(tx, bktState).Get([]byte(id)))
		var err error
		env, err = decodeEnv(id, raw)
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("get %s: %w", id, err)
	}
	return env, state, nil
}

// StateOf returns the state of id without decoding its envelope;
// ErrNotFound if absent.
func (q *Queue) StateOf(id string) (State, error) {
	var state State
	err := q.db.View(func(tx *bolt.Tx) error {
		raw := bucket(tx, bktState).Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("queue id %s: %w", id, ErrNotFound)
		}
		state = State(raw)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("state of %s: %w", id, err)
	}
	return state, nil
}

// decodeEnv decodes a stored envelope.
func decodeEnv(id string, raw []byte) (*envelope.Envelope, error) {
	env := new(envelope.Envelope)
	if err := json.Unmarshal(raw, env); err != nil {
		return nil, fmt.Errorf("decode envelope %s: %w", id, err)
	}
	return env, nil
}

// Content returns a reader over the content of id and its size. The
// caller must close the reader. ErrNotFound if there is no such message.
func (q *Queue) Content(id string) (io.ReadCloser, int64, error) {
	if !ValidID(id) {
		return nil, 0, fmt.Errorf("content %q: %w", id, ErrNotFound)
	}
	var inline []byte
	found := false
	err := q.db.View(func(tx *bolt.Tx) error {
		if bucket(tx, bktEnv).Get([]byte(id)) == nil {
			return fmt.Errorf("queue id %s: %w", id, ErrNotFound)
		}
		if v, ok := getContent(tx, id); ok {
			inline, found = bytes.Clone(v), true
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("content %s: %w", id, err)
	}
	if found {
		return io.NopCloser(bytes.NewReader(inline)), int64(len(inline)), nil
	}
	f, err := os.Open(q.contentPath(id))
	if err != nil {
		return nil, 0, fmt.Errorf("content %s: %w", id, err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("content %s: %w", id, err)
	}
	return f, fi.Size(), nil
}

// Walk calls fn with every message in state, in ascending id order (the
// order of arrival). Envelopes are read in chunks outside of which fn
// runs, so fn may call any Queue method, writes included; the walk is
// therefore not a snapshot: messages moved during it may be missed or
// seen twice. fn returning ErrStop ends the walk without error; any other
// error ends it and is returned.
func (q *Queue) Walk(state State, fn func(env *envelope.Envelope) error) error {
	if !state.valid() {
		return fmt.Errorf("walk: invalid queue state %q", state)
	}
	return q.walk(func(tx *bolt.Tx, after []byte) ([]*envelope.Envelope, []byte, bool) {
		return chunk(tx, bucket(tx, string(state)), after, func(k []byte) string { return string(k) }, nil)
	}, fn)
}

// Due calls fn with up to limit deferred messages whose NextAttempt is not
// after now, earliest first (limit <= 0: no limit). It reads the due
// index, never the whole deferred set. fn may call any Queue method, as
// with Walk; ErrStop ends the walk without error.
func (q *Queue) Due(now time.Time, limit int, fn func(env *envelope.Envelope) error) error {
	end := dueKey(now, "")
	stop := func(k []byte) bool { return bytes.Compare(k[:8], end) > 0 }
	seen := 0
	return q.walk(func(tx *bolt.Tx, after []byte) ([]*envelope.Envelope, []byte, bool) {
		envs, last, more := chunk(tx, bucket(tx, bktDue), after, func(k []byte) string { return string(k[8:]) }, stop)
		if limit > 0 && seen+len(envs) >= limit {
			envs, more = envs[:limit-seen], false
		}
		seen += len(envs)
		return envs, last, more
	}, fn)
}

// walk runs read to get chunks of envelopes, each in its own read
// transaction, and calls fn on them outside it.
func (q *Queue) walk(read func(tx *bolt.Tx, after []byte) ([]*envelope.Envelope, []byte, bool), fn func(*envelope.Envelope) error) error {
	var after []byte
	for more := true; more; {
		var envs []*envelope.Envelope
		err := q.db.View(func(tx *bolt.Tx) error {
			envs, after, more = read(tx, after)
			return nil
		})
		if err != nil {
			return fmt.Errorf("walk queue: %w", err)
		}
		for _, env := range envs {
			if err := fn(env); errors.Is(err, ErrStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
	}
	return nil
}

// chunk reads up to walkChunk envelopes named by the keys of index after
// the key after (from the start if nil), stopping before a key for which
// stop is true. It returns the last key read and whether more may follow.
// Index entries without a decodable envelope are skipped.
func chunk(tx *bolt.Tx, index *bolt.Bucket, after []byte, idOf func([]byte) string, stop func([]byte) bool) ([]*envelope.Envelope, []byte, bool) {
	c := index.Cursor()
	k, _ := c.First()
	if after != nil {
		k, _ = c.Seek(after)
		if bytes.Equal(k, after) {
			k, _ = c.Next()
		}
	}
	envBkt := bucket(tx, bktEnv)
	var envs []*envelope.Envelope
	var last []byte
	for ; k != nil && len(envs) < walkChunk; k, _ = c.Next() {
		if stop != nil && (len(k) < 8 || stop(k)) {
			return envs, last, false
		}
		last = bytes.Clone(k)
		id := idOf(k)
		if env, err := decodeEnv(id, envBkt.Get([]byte(id))); err == nil && env != nil {
			envs = append(envs, env)
		}
	}
	return envs, last, k != nil
}

// NextDue returns the earliest NextAttempt among deferred messages, and
// false if none is deferred.
func (q *Queue) NextDue() (time.Time, bool) {
	var t time.Time
	ok := false
	_ = q.db.View(func(tx *bolt.Tx) error {
		k, _ := bucket(tx, bktDue).Cursor().First()
		if len(k) >= 8 {
			t, ok = time.Unix(0, int64(binary.BigEndian.Uint64(k[:8]))), true
		}
		return nil
	})
	return t, ok
}

// Counts returns the number of messages in each state (every state is
// present, zero included). It is empty if the database can't be read.
func (q *Queue) Counts() map[State]int {
	counts := make(map[State]int)
	_ = q.db.View(func(tx *bolt.Tx) error {
		for _, s := range States() {
			counts[s] = countOf(tx, s)
		}
		return nil
	})
	return counts
}

// countOf returns the stored count of messages in s.
func countOf(tx *bolt.Tx, s State) int {
	if v := bucket(tx, bktMeta).Get(countKey(s)); len(v) == 8 {
		return int(binary.BigEndian.Uint64(v))
	}
	return 0
}

// IDs returns the id of every message in state, in ascending order, from
// one read transaction. It decodes no envelope, so it also lists messages
// whose envelope is damaged (in Corrupt, say).
func (q *Queue) IDs(state State) ([]string, error) {
	if !state.valid() {
		return nil, fmt.Errorf("list ids: invalid queue state %q", state)
	}
	var ids []string
	err := q.db.View(func(tx *bolt.Tx) error {
		return bucket(tx, string(state)).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list %s ids: %w", state, err)
	}
	return ids, nil
}
