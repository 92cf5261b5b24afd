package testutil

import (
	"net"
	"sync"
	"testing"
)

// Serve accepts connections on l and runs handle on each in a goroutine
// of its own, until the test ends: then it closes l and waits for the
// handlers, so that no server outlives its test. A handler must return
// once its connection is closed by the peer.
func Serve(t testing.TB, l net.Listener, handle func(net.Conn)) {
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
}
