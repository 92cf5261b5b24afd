package smtp

import (
	"context"
	"sync"
	"time"

	"github.com/tern-mta/tern/smtp/client"
)

// cached is an idle session kept for the next message to its destination.
type cached struct {
	s     *client.Session
	peer  string
	since time.Time
}

// sessionCache keeps idle sessions per destination for
// smtp_connection_cache_time_limit, so that a burst of messages to one
// destination uses one connection, as Postfix's scache(8) allows.
type sessionCache struct {
	mu    sync.Mutex
	limit time.Duration
	idle  map[string][]cached
	// reuseTime and reuseCount are smtp_connection_reuse_time_limit and
	// smtp_connection_reuse_count_limit: a session older, or used more
	// often, is closed instead of kept (zero: no limit).
	reuseTime  time.Duration
	reuseCount int
	// noTLS is smtp_tls_connection_reuse = no: encrypted sessions are
	// closed after their message, as Postfix's smtp does by default.
	noTLS bool
}

func newSessionCache(limit time.Duration) *sessionCache {
	return &sessionCache{limit: limit, idle: map[string][]cached{}}
}

// take returns an idle session for key that is young enough, or nil.
func (c *sessionCache) take(key string) *cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	list := c.idle[key]
	for len(list) > 0 {
		last := list[len(list)-1]
		list = list[:len(list)-1]
		if time.Since(last.since) < c.limit {
			c.idle[key] = list
			return &last
		}
		go last.s.Close(context.Background())
	}
	delete(c.idle, key)
	return nil
}

// put keeps a session; with a zero limit, past a reuse limit, or
// encrypted when TLS sessions are not reused, it is closed at once.
func (c *sessionCache) put(key string, s cached) {
	if c.limit <= 0 || c.reuseTime > 0 && s.s.Age() >= c.reuseTime || c.reuseCount > 0 && s.s.Transactions() >= c.reuseCount ||
		c.noTLS && s.s.TLS() != nil {
		_ = s.s.Close(context.Background())
		return
	}
	s.since = time.Now()
	c.mu.Lock()
	c.idle[key] = append(c.idle[key], s)
	c.mu.Unlock()
	time.AfterFunc(c.limit, c.expire)
}

// expire closes the sessions that have waited too long.
func (c *sessionCache) expire() {
	c.mu.Lock()
	var old []cached
	for key, list := range c.idle {
		keep := list[:0]
		for _, s := range list {
			if time.Since(s.since) >= c.limit {
				old = append(old, s)
			} else {
				keep = append(keep, s)
			}
		}
		if len(keep) == 0 {
			delete(c.idle, key)
		} else {
			c.idle[key] = keep
		}
	}
	c.mu.Unlock()
	for _, s := range old {
		_ = s.s.Close(context.Background())
	}
}

// closeAll ends every idle session.
func (c *sessionCache) closeAll() {
	c.mu.Lock()
	all := c.idle
	c.idle = map[string][]cached{}
	c.mu.Unlock()
	for _, list := range all {
		for _, s := range list {
			_ = s.s.Close(context.Background())
		}
	}
}
