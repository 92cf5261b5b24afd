// Package cachefile keeps a daemon's cache in a file across its restarts
// (a reload restarts every daemon): smtpd's postscreen passes, qmgr's
// address verification results. The file is a bbolt database with one
// bucket. It is read once, when opened; after that one goroutine writes
// the entries put to it, a batch per transaction, without fsync: an
// entry lost in a crash only costs the work of finding it out again.
package cachefile

import (
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// pendingWrites bounds the entries waiting to be written; past it Put
// drops them, and they stay in the caller's memory only.
const pendingWrites = 1024

// File is an open cache file. Its methods are safe for concurrent use.
type File struct {
	db     *bolt.DB
	bucket []byte
	warnf  func(string, ...any)

	mu      sync.Mutex
	writes  chan record // nil once closed
	written chan struct{}
}

// record is one entry on its way to the file; a nil value deletes key.
type record struct{ key, value []byte }

// Open opens the file at path, creating it (mode 0600) and its bucket
// when missing, and calls load for each entry in the bucket: an entry
// for which load returns false is deleted. warnf is told of writes that
// fail later, with the path.
func Open(path string, bucket []byte, load func(key, value []byte) bool, warnf func(string, ...any)) (*File, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		var stale [][]byte
		err = b.ForEach(func(k, v []byte) error {
			if !load(k, v) {
				stale = append(stale, k)
			}
			return nil
		})
		for _, k := range stale {
			if err == nil {
				err = b.Delete(k)
			}
		}
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("read entries: %w", err)
	}
	f := &File{db: db, bucket: bucket, warnf: warnf,
		writes: make(chan record, pendingWrites), written: make(chan struct{})}
	go f.writer(f.writes)
	return f, nil
}

// Put queues key's value (nil: the removal of key) for the file. It does
// not block: when the writer falls behind, or after Close, the entry is
// dropped and Put returns false.
func (f *File) Put(key, value []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.writes == nil {
		return false
	}
	select {
	case f.writes <- record{key: key, value: value}:
		return true
	default:
		return false
	}
}

// writer writes the entries queued on writes until Close closes it.
func (f *File) writer(writes <-chan record) {
	defer close(f.written)
	for r := range writes {
		batch := []record{r}
		for len(batch) < pendingWrites && len(writes) > 0 {
			batch = append(batch, <-writes)
		}
		if err := f.write(batch); err != nil {
			f.warnf("%s: %v", f.db.Path(), err)
		}
	}
}

// write writes batch in one transaction.
func (f *File) write(batch []record) error {
	return f.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(f.bucket)
		for _, r := range batch {
			var err error
			if r.value == nil {
				err = b.Delete(r.key)
			} else {
				err = b.Put(r.key, r.value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Close writes the entries that wait and closes the file.
func (f *File) Close() {
	f.mu.Lock()
	writes := f.writes
	f.writes = nil
	f.mu.Unlock()
	if writes == nil {
		return
	}
	close(writes)
	<-f.written
	_ = f.db.Close()
}
