package queue

import (
	"bytes"
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestNeighbourCommitsDoNotRewriteLargeContent pins a write
// amplification: with each message's content a plain value, bbolt kept
// two to four 100 KB values per leaf, and every commit that inserted or
// deleted a neighbour wrote the whole leaf again (about 7× the content
// for this sequence of commits and deletes).
func TestNeighbourCommitsDoNotRewriteLargeContent(t *testing.T) {
	q, _ := openTest(t, Options{InlineLimit: 256 << 10, CommitDelay: -1})
	const size, n, inflight = 100 << 10, 40, 4
	content := pattern(size, "large")
	pageAlloc := func() int64 { st := q.db.Stats(); return st.TxStats.GetPageAlloc() }
	before := pageAlloc()
	var ids []string
	for i := range n {
		env := commitContent(t, q, testEnv("rcpt@example.org"), content, Incoming)
		ids = append(ids, env.ID)
		if i >= inflight {
			if err := q.Delete(context.Background(), ids[i-inflight]); err != nil {
				t.Fatal(err)
			}
		}
	}
	perMessage := (pageAlloc() - before) / n
	// The content's own pages plus a few pages of index and envelope.
	if limit := int64(size + 12*4096); perMessage > limit {
		t.Errorf("%d bytes of pages written per %d-byte message, want at most %d", perMessage, size, limit)
	}
	for _, id := range ids[n-inflight:] {
		if got := readContent(t, q, id); !bytes.Equal(got, content) {
			t.Fatalf("content of %s: %d bytes, want the %d committed", id, len(got), len(content))
		}
	}
}

// TestContentAsPlainValueStillWorks: queues written before content had a
// bucket per message hold it as a plain value; reading, recovery and
// deletion accept that form.
func TestContentAsPlainValueStillWorks(t *testing.T) {
	for _, content := range [][]byte{pattern(5000, "old"), {}} {
		q, dir := openTest(t, Options{InlineLimit: 64 << 10})
		env := commitContent(t, q, testEnv("rcpt@example.org"), content, Incoming)
		err := q.db.Update(func(tx *bolt.Tx) error {
			parent := bucket(tx, bktContent)
			if err := parent.DeleteBucket([]byte(env.ID)); err != nil {
				return err
			}
			return parent.Put([]byte(env.ID), bytes.Clone(content))
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := readContent(t, q, env.ID); !bytes.Equal(got, content) {
			t.Fatalf("read %d bytes, want %d", len(got), len(content))
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		q, err = Open(dir, Options{InlineLimit: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = q.Close() })
		if st, err := q.StateOf(env.ID); err != nil || st != Incoming {
			t.Fatalf("after recovery: state %q, %v; want %q (content intact)", st, err, Incoming)
		}
		if err := q.Delete(context.Background(), env.ID); err != nil {
			t.Fatal(err)
		}
		err = q.db.View(func(tx *bolt.Tx) error {
			if _, ok := getContent(tx, env.ID); ok {
				t.Errorf("content of %s still stored after Delete", env.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
