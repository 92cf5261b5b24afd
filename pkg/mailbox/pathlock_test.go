package mailbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestConcurrentDeliveriesToOneMailboxDoNotWaitForDotLock pins a bug: the
// two deliveries a local user gets at once (the default concurrency) met
// at the dot-lock, and one slept deliver_lock_delay (1 s), holding local
// delivery to one mailbox near 1,000 messages a second. With the
// agent's PathLocks they queue in the process; here, with a single try
// at each lock, a meeting at the dot-lock would fail the delivery.
func TestConcurrentDeliveriesToOneMailboxDoNotWaitForDotLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "user")
	o := mboxOptions()
	o.LockMethods = []string{"fcntl", "dotlock"}
	o.LockAttempts, o.LockDelay = 1, time.Hour
	o.Locks = &PathLocks{}
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- AppendMbox(context.Background(), path, o, strings.NewReader(fmt.Sprintf("Subject: %d\n\nbody %d\n", i, i)))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("delivery: %v", err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if !strings.Contains(string(b), fmt.Sprintf("\nbody %d\n", i)) {
			t.Errorf("message %d missing from the mailbox", i)
		}
	}
	if got := strings.Count(string(b), "\nFrom "); got != n-1 {
		t.Errorf("%d From_ separators after the first, want %d", got, n-1)
	}
	if h := o.Locks.held(); h != 0 {
		t.Errorf("%d paths still locked after every delivery", h)
	}
}

func TestPathLocks(t *testing.T) {
	var p PathLocks
	unlockA, err := p.Lock(context.Background(), "/a")
	if err != nil {
		t.Fatal(err)
	}
	// Another path is independent.
	unlockB, err := p.Lock(context.Background(), "/b")
	if err != nil {
		t.Fatalf("second path: %v", err)
	}
	unlockB()
	// The same path waits, and gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := p.Lock(ctx, "/a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held path = %v, want the context's deadline", err)
	}
	// A waiter gets it once it is released.
	got := make(chan func(), 1)
	go func() {
		u, err := p.Lock(context.Background(), "/a")
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("a waiter got a held path")
	case <-time.After(20 * time.Millisecond):
	}
	unlockA()
	select {
	case u := <-got:
		u()
	case <-time.After(5 * time.Second):
		t.Fatal("the waiter never got the released path")
	}
	if h := p.held(); h != 0 {
		t.Errorf("%d paths remembered after release, want 0", h)
	}
}
