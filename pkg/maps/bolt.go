package maps

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

// tableFile is a table's database file, reached through a handle on its
// directory when one could be opened: a daemon that opened the table
// before it chrooted into the queue directory (master.cf's chroot
// column) still sees the file rebuilt under that name by newaliases or
// tern map, where the path itself no longer leads anywhere.
type tableFile struct {
	path string
	dir  *os.Root // nil: by path
}

// openTableFile returns the table file at path, with a handle on its
// directory when the directory can be opened.
func openTableFile(path string) tableFile {
	t := tableFile{path: path}
	if dir, err := os.OpenRoot(filepath.Dir(path)); err == nil {
		t.dir = dir
	}
	return t
}

// stat and openFile go through the directory handle and, where that fails
// (a symbolic link out of the directory, which the handle does not
// follow), by path.
func (t tableFile) stat() (os.FileInfo, error) {
	if t.dir != nil {
		if fi, err := t.dir.Stat(filepath.Base(t.path)); err == nil {
			return fi, nil
		}
	}
	return os.Stat(t.path)
}

// openFile is bolt's Options.OpenFile for t.
func (t tableFile) openFile(_ string, flag int, mode os.FileMode) (*os.File, error) {
	if t.dir != nil {
		if f, err := t.dir.OpenFile(filepath.Base(t.path), flag, mode); err == nil {
			return f, nil
		}
	}
	return os.OpenFile(t.path, flag, mode)
}

func (t tableFile) close() {
	if t.dir != nil {
		t.dir.Close()
	}
}

func (t tableFile) statID() (fileID, error) {
	fi, err := t.stat()
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
	file          tableFile
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
	bm.file = openTableFile(bm.path)
	v, err := openView(bm.file)
	if err != nil {
		bm.file.close()
		return nil, fmt.Errorf("open %s: %w", spec, err)
	}
	bm.view = v
	bm.lastCheck.Store(time.Now().UnixNano())
	return bm, nil
}

// openView opens the table file for lookups.
func openView(t tableFile) (*boltView, error) {
	db, id, err := t.openReadOnly()
	if err != nil {
		return nil, err
	}
	tx, err := db.Begin(false)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", t.path, err)
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
	return tableFile{path: path}.openReadOnly()
}

func (t tableFile) openReadOnly() (*bolt.DB, fileID, error) {
	path := t.path
	for range 3 {
		id, err := t.statID()
		if err != nil {
			return nil, fileID{}, fmt.Errorf("open database %s: %w", path, err)
		}
		db, err := bolt.Open(path, 0, &bolt.Options{ReadOnly: true, Timeout: openTimeout, OpenFile: t.openFile})
		if err != nil {
			return nil, fileID{}, fmt.Errorf("open database %s: %w", path, err)
		}
		// The file may have been replaced between stat and open; make sure
		// the identity matches the file actually opened.
		if after, err := t.statID(); err == nil && after == id {
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
	id, err := bm.file.statID()
	bm.mu.RLock()
	same := err != nil || bm.view == nil || id == bm.view.id
	bm.mu.RUnlock()
	if same {
		return
	}
	v, err := openView(bm.file)
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
	bm.file.close()
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
