package maps

import (
	"bytes"
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

	mu   sync.RWMutex // guards view
	view *boltView    // nil once closed
}

// boltView is one version of a table file, open for reading: the
// database, one read transaction held for as long as the version is in
// use, and the bucket of entries. A table file is never changed in place
// (a build writes a new file and renames it over the old one), so the
// one transaction sees the whole version, and lookups need not start a
// transaction each. Lookups on the bucket may run concurrently: a
// read-only transaction only reads the file's memory map.
type boltView struct {
	db      *bolt.DB
	tx      *bolt.Tx
	bucket  *bolt.Bucket // nil when the table has no entries
	id      fileID
	cursors sync.Pool // of *bolt.Cursor on bucket, for lookups
}

func openBolt(spec, name string) (Map, error) {
	bm := &boltMap{spec: spec, path: DBPath(name), checkInterval: defaultCheckInterval}
	v, err := openView(bm.path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	bm.view = v
	bm.lastCheck.Store(time.Now().UnixNano())
	return bm, nil
}

// openView opens the table file at path for lookups.
func openView(path string) (*boltView, error) {
	db, id, err := openReadOnly(path)
	if err != nil {
		return nil, err
	}
	tx, err := db.Begin(false)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	return &boltView{db: db, tx: tx, bucket: tx.Bucket([]byte(bucketName)), id: id}, nil
}

// close ends the view's transaction and closes its database.
func (v *boltView) close() error {
	if err := v.tx.Rollback(); err != nil {
		v.db.Close()
		return err
	}
	return v.db.Close()
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
	same := err != nil || bm.view == nil || id == bm.view.id
	bm.mu.RUnlock()
	if same {
		return
	}
	v, err := openView(bm.path)
	if err != nil {
		return
	}
	bm.mu.Lock()
	old := bm.view
	if old == nil {
		// closed meanwhile
		bm.mu.Unlock()
		v.close()
		return
	}
	bm.view = v
	bm.mu.Unlock()
	old.close()
}

// maxStackKey is the longest folded key looked up without a heap buffer.
const maxStackKey = 256

func (bm *boltMap) Lookup(key string) (string, bool, error) {
	bm.refresh()
	bm.mu.RLock()
	defer bm.mu.RUnlock()
	v := bm.view
	if v == nil {
		return "", false, fmt.Errorf("%s: table is closed", bm.spec)
	}
	if v.bucket == nil || key == "" {
		return "", false, nil
	}
	var buf [maxStackKey]byte
	val := v.get(appendFold(buf[:0], key))
	if val == nil {
		return "", false, nil
	}
	return string(val), true, nil
}

// get returns the value stored under the folded key, or nil. It uses a
// cursor from the view's pool: a cursor keeps its search stack between
// lookups, where Bucket.Get allocates a new cursor and stack each time.
func (v *boltView) get(key []byte) []byte {
	c, _ := v.cursors.Get().(*bolt.Cursor)
	if c == nil {
		c = v.bucket.Cursor()
	}
	k, val := c.Seek(key)
	v.cursors.Put(c)
	if val == nil || !bytes.Equal(k, key) {
		return nil
	}
	return val
}

// appendFold appends fold(key) to dst, folding ASCII keys in place
// instead of through a new string.
func appendFold(dst []byte, key string) []byte {
	start := len(dst)
	dst = append(dst, key...)
	b := dst[start:]
	for i, c := range b {
		switch {
		case c >= 0x80:
			return append(dst[:start], fold(key)...)
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		}
	}
	return dst
}

func (bm *boltMap) Name() string { return bm.spec }

func (bm *boltMap) Close() error {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	if bm.view == nil {
		return nil
	}
	err := bm.view.close()
	bm.view = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", bm.spec, err)
	}
	return nil
}

// Walk calls fn for every entry in key order.
func (bm *boltMap) Walk(fn func(key, value string) error) error {
	bm.mu.RLock()
	defer bm.mu.RUnlock()
	v := bm.view
	if v == nil {
		return fmt.Errorf("%s: table is closed", bm.spec)
	}
	if v.bucket == nil {
		return nil
	}
	return v.bucket.ForEach(func(k, val []byte) error {
		return fn(string(k), string(val))
	})
}
