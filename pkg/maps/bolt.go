package maps

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketName is the bbolt bucket that holds a table's entries.
const bucketName = "map"

// openTimeout bounds the wait for the shared lock on a table file.
const openTimeout = time.Second

// defaultCheckInterval is how often a hash table checks whether its file was
// rebuilt.
const defaultCheckInterval = time.Second

// DBPath returns the file that holds the hash: or btree: table built from
// path, as Postfix names it.
func DBPath(path string) string { return path + ".db" }

// staleWarning warns, as Postfix does, when the source file of a table is
// newer than the table built from it.
func staleWarning(path string) []string {
	src, err := os.Stat(path)
	if err != nil {
		return nil
	}
	db, err := os.Stat(DBPath(path))
	if err != nil || !src.ModTime().After(db.ModTime()) {
		return nil
	}
	return []string{fmt.Sprintf("database %s is older than source file %s", DBPath(path), path)}
}

// fileID identifies one version of a file.
type fileID struct {
	dev, ino uint64
	mtime    int64
	size     int64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{mtime: fi.ModTime().UnixNano(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id, nil
}

// boltMap is a hash: or btree: table: a read-only bbolt file that is
// re-opened when it has been replaced by a rebuild.
type boltMap struct {
	spec, path    string
	checkInterval time.Duration
	lastCheck     atomic.Int64 // unix nanoseconds of the last stat

	mu sync.RWMutex // guards db and id
	db *bolt.DB
	id fileID
}

func openBolt(spec, name string) (Map, error) {
	bm := &boltMap{spec: spec, path: DBPath(name), checkInterval: defaultCheckInterval}
	db, id, err := openReadOnly(bm.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	bm.db, bm.id = db, id
	bm.lastCheck.Store(time.Now().UnixNano())
	return bm, nil
}

// openReadOnly opens a table file read-only and returns the identity of the
// version it opened.
func openReadOnly(path string) (*bolt.DB, fileID, error) {
	for range 3 {
		id, err := statID(path)
		if err != nil {
			return nil, fileID{}, fmt.Errorf("open database %s: %w", path, err)
		}
		db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: openTimeout})
		if err != nil {
			return nil, fileID{}, fmt.Errorf("open database %s: %w", path, err)
		}
		// The file may have been replaced between stat and open; make sure
		// the identity matches the file actually opened.
		if after, err := statID(path); err == nil && after == id {
			return db, id, nil
		}
		db.Close()
	}
	return nil, fileID{}, fmt.Errorf("open database %s: file keeps changing", path)
}

// refresh re-opens the table when its file has changed, at most once per
// check interval. A failed re-open keeps the old version in use.
func (bm *boltMap) refresh() {
	now := time.Now().UnixNano()
	last := bm.lastCheck.Load()
	if now-last < int64(bm.checkInterval) || !bm.lastCheck.CompareAndSwap(last, now) {
		return
	}
	id, err := statID(bm.path)
	bm.mu.RLock()
	same := err != nil || id == bm.id
	bm.mu.RUnlock()
	if same {
		return
	}
	db, id, err := openReadOnly(bm.path)
	if err != nil {
		return
	}
	bm.mu.Lock()
	old := bm.db
	bm.db, bm.id = db, id
	bm.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

func (bm *boltMap) Lookup(key string) (string, bool, error) {
	bm.refresh()
	bm.mu.RLock()
	defer bm.mu.RUnlock()
	if bm.db == nil {
		return "", false, fmt.Errorf("%s: table is closed", bm.spec)
	}
	var (
		value string
		found bool
	)
	err := bm.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketName))
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(fold(key))); v != nil {
			value, found = string(v), true
		}
		return nil
	})
	if err != nil {
		return "", false, fmt.Errorf("%s: lookup %q: %w", bm.spec, key, err)
	}
	return value, found, nil
}

func (bm *boltMap) Name() string { return bm.spec }

func (bm *boltMap) Close() error {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	if bm.db == nil {
		return nil
	}
	err := bm.db.Close()
	bm.db = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", bm.spec, err)
	}
	return nil
}

// Walk calls fn for every entry in key order.
func (bm *boltMap) Walk(fn func(key, value string) error) error {
	bm.mu.RLock()
	defer bm.mu.RUnlock()
	if bm.db == nil {
		return fmt.Errorf("%s: table is closed", bm.spec)
	}
	return bm.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketName))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			return fn(string(k), string(v))
		})
	})
}
