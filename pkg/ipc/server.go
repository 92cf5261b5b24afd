package ipc

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Handler serves one connection. It owns c and need not close it.
type Handler func(ctx context.Context, c *Conn)

// Serve accepts connections on l and runs h for each in its own goroutine
// until ctx is cancelled; then it closes l and waits for the handlers.
func Serve(ctx context.Context, l net.Listener, timeout time.Duration, h Handler) error {
	var wg sync.WaitGroup
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var err error
	for {
		nc, aerr := l.Accept()
		if aerr != nil {
			if ctx.Err() == nil && !errors.Is(aerr, net.ErrClosed) {
				err = aerr
			}
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := NewConn(nc, timeout)
			defer c.Close()
			h(ctx, c)
		}()
	}
	wg.Wait()
	return err
}
