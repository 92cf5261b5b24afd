package queue

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Recover repairs the queue at start, before any other use: every Active
// message goes back to Incoming (at-least-once delivery); a message whose
// envelope can't be decoded or whose content is missing, unreadable or
// not of the recorded size goes to Corrupt; the due index and counts are
// rebuilt; content files without an envelope and leftover tmp-* files
// are removed. It returns how many messages moved from Active to
// Incoming.
func (q *Queue) Recover() (moved int, err error) {
	known := make(map[string]bool)
	err = q.db.Update(func(tx *bolt.Tx) error {
		var err error
		moved, err = q.recoverTx(tx, known)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("recover queue: %w", err)
	}
	if err := q.removeOrphans(known); err != nil {
		return moved, fmt.Errorf("recover queue: %w", err)
	}
	return moved, nil
}

// recoverTx is Recover's database part; it fills known with every id.
func (q *Queue) recoverTx(tx *bolt.Tx, known map[string]bool) (int, error) {
	if err := resetBuckets(tx, bktDue, bktMeta); err != nil {
		return 0, err
	}
	for _, s := range States() {
		if err := resetBuckets(tx, string(s)); err != nil {
			return 0, err
		}
	}
	moved := 0
	err := bucket(tx, bktEnv).ForEach(func(k, raw []byte) error {
		id := string(k)
		known[id] = true
		state := q.recoverState(tx, id, raw)
		if state == Incoming && State(bucket(tx, bktState).Get(k)) == Active {
			moved++
		}
		var st stored
		_ = json.Unmarshal(raw, &st)
		if err := place(tx, id, state, st.Next); err != nil {
			return fmt.Errorf("index %s: %w", id, err)
		}
		return nil
	})
	return moved, err
}

// resetBuckets empties the named buckets.
func resetBuckets(tx *bolt.Tx, names ...string) error {
	for _, name := range names {
		if err := tx.DeleteBucket([]byte(name)); err != nil {
			return fmt.Errorf("reset bucket %s: %w", name, err)
		}
		if _, err := tx.CreateBucket([]byte(name)); err != nil {
			return fmt.Errorf("reset bucket %s: %w", name, err)
		}
	}
	return nil
}

// recoverState returns the state that the message id should be in after
// a restart.
func (q *Queue) recoverState(tx *bolt.Tx, id string, raw []byte) State {
	state := State(bucket(tx, bktState).Get([]byte(id)))
	var st stored
	switch {
	case json.Unmarshal(raw, &st) != nil || !state.valid():
		return Corrupt
	case !q.contentIntact(tx, id, st.Size):
		return Corrupt
	case state == Active:
		return Incoming
	}
	return state
}

// contentIntact reports whether id's content is present, readable and of
// the given size.
func (q *Queue) contentIntact(tx *bolt.Tx, id string, size int64) bool {
	if v, ok := getContent(tx, id); ok {
		return int64(len(v)) == size
	}
	f, err := os.Open(q.contentPath(id))
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	if size == 0 {
		return true
	}
	var b [1]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil
}

// removeOrphans removes the files in the content directory that belong
// to no message (known) and leftover temporary files.
func (q *Queue) removeOrphans(known map[string]bool) error {
	entries, err := os.ReadDir(q.contentDir)
	if err != nil {
		return fmt.Errorf("read content directory: %w", err)
	}
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if known[name] && !strings.HasPrefix(name, "tmp-") {
			continue
		}
		if e.IsDir() {
			continue
		}
		if err := os.Remove(q.contentPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove orphan content: %w", err))
		}
	}
	return errors.Join(errs...)
}
