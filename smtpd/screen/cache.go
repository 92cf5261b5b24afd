package screen

import (
	"net/netip"
	"sync"
	"time"
)

// cacheEntries bounds the clients remembered. Past it, expired entries
// are dropped, and all of them if none had expired.
const cacheEntries = 100000

// passes are the times until which a client's passed tests count.
type passes struct {
	greet, dnsbl time.Time
}

// cache remembers the clients that passed, in memory: after a restart
// every client is tested once again. Postfix keeps it in
// postscreen_cache_map so that it outlives postscreen.
type cache struct {
	mu      sync.Mutex
	entries map[netip.Addr]passes
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
	c.entries[a] = passes{greet: later(old.greet, p.greet), dnsbl: later(old.dnsbl, p.dnsbl)}
}

// prune drops expired entries, or all when none had; c.mu is held.
func (c *cache) prune(now time.Time) {
	for a, p := range c.entries {
		if now.After(p.greet) && now.After(p.dnsbl) {
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
