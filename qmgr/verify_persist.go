package qmgr

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	bolt "go.etcd.io/bbolt"
)

// The verify cache file keeps address verification results across
// qmgr's restarts, as Postfix's verify(8) keeps address_verify_map. A
// reload restarts every daemon: without the file each address would be
// "in progress" again after it, and mail to every verified address
// deferred once with 450. It is a bbolt file at the path that
// address_verify_map names ("btree:$data_directory/verify_cache" gives
// $data_directory/verify_cache.db); an empty address_verify_map keeps
// the results in memory only, as in Postfix. Writes are not fsynced: a
// result lost in a crash costs one more probe.

// verifyBucket holds one record per address (lower case): the Unix time
// of the result, then its status, a newline and its text.
var verifyBucket = []byte("verify")

// verifyPendingWrites bounds the results waiting to be written; past it
// new ones are kept in memory only.
const verifyPendingWrites = 1024

// verifyCachePath is the file that address_verify_map names: "" for an
// empty setting (memory only), an error for a table that is not a file.
func verifyCachePath(spec string) (string, error) {
	path, err := config.AddressVerifyMapFile(spec)
	if err == nil && path != "" && !strings.HasPrefix(path, "/") {
		err = fmt.Errorf("address_verify_map = %s: the file must be given by an absolute path", spec)
	}
	return path, err
}

// verifyRecord is a result on its way to the file; a zero entry deletes
// the address.
type verifyRecord struct {
	key string
	e   verifyEntry
}

// persist backs the cache with the file at path: it loads the results
// that have not expired, drops the others, and writes each new result
// to it, with warnf saying why a write failed. On error the cache stays
// in memory.
func (v *verifier) persist(path string, warnf func(string, ...any)) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, NoSync: true})
	if err != nil {
		return fmt.Errorf("address_verify_map %s: %w", path, err)
	}
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(verifyBucket)
		if err != nil {
			return err
		}
		var stale [][]byte
		err = b.ForEach(func(k, val []byte) error {
			e, ok := decodeVerifyEntry(val)
			if !ok || !v.fresh(e, now) {
				stale = append(stale, k)
				return nil
			}
			v.cache[string(k)] = &e
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
		return fmt.Errorf("address_verify_map %s: %w", path, err)
	}
	v.file = db
	v.writes = make(chan verifyRecord, verifyPendingWrites)
	v.written = make(chan struct{})
	go writeVerifyResults(db, v.writes, v.written, warnf)
	return nil
}

// fresh reports whether e's result has not expired at now.
func (v *verifier) fresh(e verifyEntry, now time.Time) bool {
	expire := v.set.negativeExpire
	if e.status == verifyDeliverable {
		expire = v.set.positiveExpire
	}
	return !e.updated.IsZero() && now.Sub(e.updated) < expire
}

// save queues the result of key (a zero e: its removal) for the file;
// v.mu is held. A full queue drops it: the result stays in memory.
func (v *verifier) save(key string, e verifyEntry) {
	if v.writes == nil {
		return
	}
	select {
	case v.writes <- verifyRecord{key: key, e: e}:
	default:
	}
}

// writeVerifyResults writes results to the file, a batch per
// transaction, until writes is closed; then it closes written.
func writeVerifyResults(db *bolt.DB, writes <-chan verifyRecord, written chan<- struct{}, warnf func(string, ...any)) {
	defer close(written)
	for r := range writes {
		batch := []verifyRecord{r}
		for len(batch) < verifyPendingWrites && len(writes) > 0 {
			batch = append(batch, <-writes)
		}
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(verifyBucket)
			for _, r := range batch {
				var err error
				if r.e.updated.IsZero() {
					err = b.Delete([]byte(r.key))
				} else {
					err = b.Put([]byte(r.key), encodeVerifyEntry(r.e))
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			warnf("address_verify_map %s: %v", db.Path(), err)
		}
	}
}

// close writes what waits and closes the file; results after it stay in
// memory.
func (v *verifier) close() {
	v.mu.Lock()
	db, writes, written := v.file, v.writes, v.written
	v.file, v.writes = nil, nil
	v.mu.Unlock()
	if db == nil {
		return
	}
	close(writes)
	<-written
	_ = db.Close()
}

func encodeVerifyEntry(e verifyEntry) []byte {
	val := make([]byte, 8, 8+len(e.status)+1+len(e.text))
	binary.BigEndian.PutUint64(val, uint64(e.updated.Unix()))
	val = append(val, e.status...)
	val = append(val, '\n')
	return append(val, e.text...)
}

func decodeVerifyEntry(val []byte) (verifyEntry, bool) {
	if len(val) < 9 {
		return verifyEntry{}, false
	}
	status, text, ok := strings.Cut(string(val[8:]), "\n")
	switch status {
	case verifyDeliverable, verifyUndeliverable, verifyDeferred:
	default:
		ok = false
	}
	updated := time.Unix(int64(binary.BigEndian.Uint64(val)), 0)
	return verifyEntry{status: status, text: text, updated: updated}, ok
}
