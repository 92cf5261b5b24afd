package maps

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// fileMeta is the mode and owner a table file is created with.
type fileMeta struct {
	perm     os.FileMode
	uid, gid int
	chown    bool
}

// tableMeta decides the mode and owner of a new version of dbPath: those of
// the existing table file, or for a new one, read permissions for group
// and others as the source file has them (postmap's rule).
func tableMeta(dbPath string, src os.FileInfo) (fileMeta, error) {
	fi, err := os.Stat(dbPath)
	switch {
	case err == nil:
	case os.IsNotExist(err) && src != nil:
		fi = src
	case os.IsNotExist(err):
		return fileMeta{perm: 0o644}, nil
	default:
		return fileMeta{}, fmt.Errorf("stat %s: %w", dbPath, err)
	}
	meta := fileMeta{perm: fi.Mode().Perm()}
	if fi == src {
		meta.perm = 0o600 | fi.Mode().Perm()&0o044
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		meta.uid, meta.gid, meta.chown = int(st.Uid), int(st.Gid), true
	}
	return meta, nil
}

// writeTable writes recs, sorted by key and without duplicates, to a new
// file beside dbPath and renames it over dbPath, so that readers see the
// old or the new table and never a partial one.
func writeTable(dbPath string, recs []record, meta fileMeta) (err error) {
	dir := filepath.Dir(dbPath)
	tmp, err := os.CreateTemp(dir, filepath.Base(dbPath)+".tmp*")
	if err != nil {
		return fmt.Errorf("create table %s: %w", dbPath, err)
	}
	name := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(name)
		}
	}()
	if err := fillTable(name, recs); err != nil {
		return fmt.Errorf("write table %s: %w", dbPath, err)
	}
	if err := os.Chmod(name, meta.perm); err != nil {
		return fmt.Errorf("write table %s: %w", dbPath, err)
	}
	if meta.chown {
		if err := os.Chown(name, meta.uid, meta.gid); err != nil {
			return fmt.Errorf("write table %s: %w", dbPath, err)
		}
	}
	if err := os.Rename(name, dbPath); err != nil {
		return fmt.Errorf("install table %s: %w", dbPath, err)
	}
	return syncDir(dir)
}

// fillTable loads recs into the empty bbolt file name with large sorted
// transactions and no per-transaction sync, then syncs once.
func fillTable(name string, recs []record) error {
	size := 1 << 20
	for _, r := range recs {
		size += len(r.key) + len(r.value) + 32
	}
	db, err := bolt.Open(name, 0o600, &bolt.Options{
		Timeout:         openTimeout,
		NoSync:          true,
		NoGrowSync:      true,
		NoFreelistSync:  true,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: size,
	})
	if err != nil {
		return err
	}
	for start := 0; start == 0 || start < len(recs); start += writeBatch {
		batch := recs[start:min(start+writeBatch, len(recs))]
		if err := db.Update(func(tx *bolt.Tx) error { return putBatch(tx, batch) }); err != nil {
			db.Close()
			return err
		}
	}
	if err := db.Sync(); err != nil {
		db.Close()
		return err
	}
	return db.Close()
}

func putBatch(tx *bolt.Tx, batch []record) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketName))
	if err != nil {
		return err
	}
	b.FillPercent = 1.0
	// bbolt keeps the slices until the commit, so the batch gets one
	// buffer of its own instead of two allocations per entry.
	size := 0
	for _, r := range batch {
		size += len(r.key) + len(r.value)
	}
	buf := make([]byte, 0, size)
	for _, r := range batch {
		start := len(buf)
		buf = append(buf, r.key...)
		buf = append(buf, r.value...)
		k, v := buf[start:start+len(r.key):start+len(r.key)], buf[start+len(r.key):]
		if err := b.Put(k, v); err != nil {
			return fmt.Errorf("put %q: %w", r.key, err)
		}
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
