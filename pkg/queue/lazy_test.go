package queue

import (
	"errors"
	"testing"
	"time"
)

// TestDeleteLaterAloneCommitsAfterLazyDelay: a removal with no durable
// write to join is committed on its own once LazyDelay has passed.
func TestDeleteLaterAloneCommitsAfterLazyDelay(t *testing.T) {
	q, _ := openTest(t, Options{InlineLimit: testInline, CommitDelay: -1, LazyDelay: 50 * time.Millisecond})
	env := commitContent(t, q, testEnv("a@example.com"), pattern(10, "x"), Incoming)
	start := time.Now()
	done := make(chan error, 1)
	if err := q.DeleteLater(env.ID, func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the removal was never committed")
	}
	if waited := time.Since(start); waited < 40*time.Millisecond {
		t.Errorf("a lone removal was committed after %v, before LazyDelay", waited)
	}
	if _, _, err := q.Get(env.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after the removal: %v", err)
	}
}

// TestDeleteLaterJoinsDurableCommit: removals ride along with the next
// durable write, in one transaction, without waiting out LazyDelay.
func TestDeleteLaterJoinsDurableCommit(t *testing.T) {
	q, _ := openTest(t, Options{InlineLimit: testInline, CommitDelay: -1, LazyDelay: time.Hour})
	a := commitContent(t, q, testEnv("a@example.com"), pattern(10, "a"), Incoming)
	b := commitContent(t, q, testEnv("b@example.com"), pattern(10, "b"), Incoming)
	done := make(chan error, 2)
	for _, id := range []string{a.ID, b.ID} {
		if err := q.DeleteLater(id, func(err error) { done <- err }); err != nil {
			t.Fatal(err)
		}
	}
	before := q.Stats().Transactions
	commitContent(t, q, testEnv("c@example.com"), pattern(10, "c"), Incoming) // durable
	for i := 0; i < 2; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the removals did not join the durable commit")
		}
	}
	if n := q.Stats().Transactions - before; n != 1 {
		t.Errorf("%d transactions for two removals and one enqueue, want 1", n)
	}
}

// TestCloseCommitsPendingRemovals: closing the queue commits removals
// still waiting for company; afterwards DeleteLater refuses.
func TestCloseCommitsPendingRemovals(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{InlineLimit: testInline, CommitDelay: -1, LazyDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	env := commitContent(t, q, testEnv("a@example.com"), pattern(10, "x"), Incoming)
	if err := q.DeleteLater(env.ID, nil); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.DeleteLater(env.ID, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("DeleteLater after Close = %v, want ErrClosed", err)
	}
	q2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q2.Close()
	if _, _, err := q2.Get(env.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("after reopening, the removed message: %v", err)
	}
}
