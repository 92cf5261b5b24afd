package smtpd

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/tern-mta/tern/smtp/mx"
)

// DNS list answers are kept for a while: with smtpd_delay_reject the
// client restrictions run again for every recipient, and busy clients
// connect again and again. Failed lookups are not kept.
const (
	dnsListTTL     = time.Minute
	dnsListEntries = 10000
)

// dnsListCache answers restrict.Deps.DNSList from mx.Resolver, remembering
// answers for dnsListTTL.
type dnsListCache struct {
	r       *mx.Resolver
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]dnsListEntry
}

type dnsListEntry struct {
	addrs   []netip.Addr
	text    string
	expires time.Time
}

func newDNSListCache(r *mx.Resolver) *dnsListCache {
	return &dnsListCache{r: r, now: time.Now, entries: map[string]dnsListEntry{}}
}

// lookup is restrict.Deps.DNSList.
func (c *dnsListCache) lookup(ctx context.Context, name string) ([]netip.Addr, string, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[name]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.addrs, e.text, nil
	}
	addrs, text, err := c.r.LookupList(ctx, name)
	if err != nil {
		return nil, "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= dnsListEntries {
		c.prune(now)
	}
	c.entries[name] = dnsListEntry{addrs: addrs, text: text, expires: now.Add(dnsListTTL)}
	return addrs, text, nil
}

// prune drops expired entries, and all of them when none had expired, so
// that the cache stays bounded; c.mu is held.
func (c *dnsListCache) prune(now time.Time) {
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
	if len(c.entries) >= dnsListEntries {
		clear(c.entries)
	}
}
