package qmgr

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/cachefile"
	"github.com/tern-mta/tern/pkg/config"
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

// verifyCachePath is the file that address_verify_map names: "" for an
// empty setting (memory only), an error for a table that is not a file.
func verifyCachePath(spec string) (string, error) {
	path, err := config.AddressVerifyMapFile(spec)
	if err == nil && path != "" && !strings.HasPrefix(path, "/") {
		err = fmt.Errorf("address_verify_map = %s: the file must be given by an absolute path", spec)
	}
	return path, err
}

// persist backs the cache with the file at path: it loads the results
// that have not expired, drops the others, and writes each new result
// to it, with warnf saying why a write failed. On error the cache stays
// in memory.
func (v *verifier) persist(path string, warnf func(string, ...any)) error {
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	f, err := cachefile.Open(path, verifyBucket, func(k, val []byte) bool {
		e, ok := decodeVerifyEntry(val)
		if !ok || !v.fresh(e, now) {
			return false
		}
		v.cache[string(k)] = &e
		return true
	}, func(format string, args ...any) { warnf("address_verify_map "+format, args...) })
	if err != nil {
		return fmt.Errorf("address_verify_map %s: %w", path, err)
	}
	v.file = f
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

// save queues the result of key for the file, a zero e its removal;
// v.mu is held. When the file falls behind, the result stays in memory
// only.
func (v *verifier) save(key string, e verifyEntry) {
	if v.file == nil {
		return
	}
	var val []byte
	if !e.updated.IsZero() {
		val = encodeVerifyEntry(e)
	}
	v.file.Put([]byte(key), val)
}

// close writes what waits and closes the file; results after it stay in
// memory.
func (v *verifier) close() {
	v.mu.Lock()
	f := v.file
	v.file = nil
	v.mu.Unlock()
	if f != nil {
		f.Close()
	}
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
