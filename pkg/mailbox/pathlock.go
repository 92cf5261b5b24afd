package mailbox

import (
	"context"
	"sync"
)

// PathLocks orders one process's deliveries to the same file: a delivery
// waits here, for microseconds, rather than finding the dot-lock of its
// neighbour taken and sleeping deliver_lock_delay (1 s) before trying
// again. Two deliveries for one local user at a time, the default
// concurrency, met that way nearly always, and one of them slept. Other
// programs (mail readers, other delivery agents) are still kept out by
// the dot-lock and the kernel lock. The zero value is ready to use.
type PathLocks struct {
	mu    sync.Mutex
	locks map[string]*pathLock
}

type pathLock struct {
	held  chan struct{} // holds a token while a delivery has the path
	users int           // deliveries holding or waiting; guarded by PathLocks.mu
}

// Lock waits until no other delivery of this process holds path, or ctx
// ends. It returns the function that releases it.
func (p *PathLocks) Lock(ctx context.Context, path string) (unlock func(), err error) {
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[string]*pathLock{}
	}
	l := p.locks[path]
	if l == nil {
		l = &pathLock{held: make(chan struct{}, 1)}
		p.locks[path] = l
	}
	l.users++
	p.mu.Unlock()
	select {
	case l.held <- struct{}{}:
		return func() {
			<-l.held
			p.release(path, l)
		}, nil
	case <-ctx.Done():
		p.release(path, l)
		return nil, ctx.Err()
	}
}

// release forgets l once no delivery holds or waits for it.
func (p *PathLocks) release(path string, l *pathLock) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l.users--; l.users == 0 {
		delete(p.locks, path)
	}
}

// held reports how many paths have a delivery holding or waiting (for
// tests).
func (p *PathLocks) held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.locks)
}
