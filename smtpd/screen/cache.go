package screen

import (
	"net/netip"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/cachefile"
)

// cacheEntries bounds the clients remembered. Past it, expired entries
// are dropped, and all of them if none had expired.
const cacheEntries = 100000

// passes are the times until which a client's passed tests count: the
// greeting test, the DNS lists, and the deep protocol tests after the
// greeting (deep.go).
type passes struct {
	greet, dnsbl, deep time.Time
}

// until is when the last of p's passes ends.
func (p passes) until() time.Time { return later(later(p.greet, p.dnsbl), p.deep) }

// cache remembers the clients that passed, in memory and, once Persist
// has opened it, in the postscreen_cache_map file (persist.go).
type cache struct {
	mu      sync.Mutex
	entries map[netip.Addr]passes
	// file, when set, receives each pass.
	file *cachefile.File
}

func newCache() *cache { return &cache{entries: map[netip.Addr]passes{}} }

func (c *cache) get(a netip.Addr) passes {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.entries[a]
}

// put records p for a, keeping the later time of each test.
func (c *cache) put(a netip.Addr, p passes, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.entries[a]
	if !ok && len(c.entries) >= cacheEntries {
		c.prune(now)
	}
	p = passes{greet: later(old.greet, p.greet), dnsbl: later(old.dnsbl, p.dnsbl), deep: later(old.deep, p.deep)}
	c.entries[a] = p
	if c.file != nil {
		// When the file falls behind, this pass stays in memory only.
		c.file.Put(encodePass(a, p))
	}
}

// load takes in a pass read from the file.
func (c *cache) load(a netip.Addr, p passes) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) < cacheEntries {
		c.entries[a] = p
	}
}

// prune drops expired entries, or all when none had; c.mu is held.
func (c *cache) prune(now time.Time) {
	for a, p := range c.entries {
		if now.After(p.until()) {
			delete(c.entries, a)
		}
	}
	if len(c.entries) >= cacheEntries {
		clear(c.entries)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
