package screen

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/cachefile"
)

// The cache file keeps the clients that passed across smtpd's restarts
// (a reload restarts every daemon): without it, every client would wait
// out the greeting test again after each reload. It is a bbolt file at
// the path of postscreen_cache_map ("btree:$data_directory/postscreen_cache"
// gives $data_directory/postscreen_cache.db). Writes are not fsynced: a
// pass lost in a crash only means one more test.

// cacheBucket holds one record per client address: the times until which
// its greeting and DNSBL passes count, in Unix seconds.
var cacheBucket = []byte("postscreen")

// CachePath is the file that postscreen_cache_map names, "" for none
// (an empty setting: no cache, as in Postfix). A proxy: prefix and the
// table type are dropped.
func CachePath(spec string) string {
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return ""
	}
	spec = strings.TrimPrefix(spec, "proxy:")
	if _, path, ok := strings.Cut(spec, ":"); ok {
		spec = path
	}
	return spec + ".db"
}

// Persist backs sc's cache with the file at path: it loads the passes
// that still count, drops those expired for longer than retention, and
// writes each new pass to it. On error the cache stays in memory.
func (sc *Screen) Persist(path string, retention time.Duration) error {
	now := sc.now()
	f, err := cachefile.Open(path, cacheBucket, func(k, v []byte) bool {
		a, p, ok := decodePass(k, v)
		switch {
		case !ok || now.Sub(p.until()) > retention:
			return false
		case now.Before(p.until()):
			sc.cache.load(a, p)
		}
		return true
	}, func(format string, args ...any) { sc.log.Warnf("postscreen_cache_map "+format, args...) })
	if err != nil {
		return fmt.Errorf("postscreen_cache_map %s: %w", path, err)
	}
	sc.cache.mu.Lock()
	sc.cache.file = f
	sc.cache.mu.Unlock()
	return nil
}

// close writes what waits and closes the file; passes after it stay in
// memory.
func (c *cache) close() {
	c.mu.Lock()
	f := c.file
	c.file = nil
	c.mu.Unlock()
	if f != nil {
		f.Close()
	}
}

func encodePass(a netip.Addr, p passes) (k, v []byte) {
	k, _ = a.MarshalBinary()
	v = make([]byte, 24)
	binary.BigEndian.PutUint64(v, uint64(p.greet.Unix()))
	binary.BigEndian.PutUint64(v[8:], uint64(p.dnsbl.Unix()))
	binary.BigEndian.PutUint64(v[16:], uint64(p.deep.Unix()))
	return k, v
}

func decodePass(k, v []byte) (netip.Addr, passes, bool) {
	var a netip.Addr
	if a.UnmarshalBinary(k) != nil || !a.IsValid() || len(v) != 16 && len(v) != 24 {
		return a, passes{}, false
	}
	p := passes{
		greet: time.Unix(int64(binary.BigEndian.Uint64(v)), 0),
		dnsbl: time.Unix(int64(binary.BigEndian.Uint64(v[8:])), 0),
	}
	if len(v) == 24 { // files written before the deep tests have 16 bytes
		p.deep = time.Unix(int64(binary.BigEndian.Uint64(v[16:])), 0)
	}
	return a, p, true
}
