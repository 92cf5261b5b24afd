package queue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tern-mta/tern/pkg/envelope"
)

const testInline = 1024

// openTest opens a queue in a new directory, closed at cleanup.
func openTest(t testing.TB, opt Options) (*Queue, string) {
	t.Helper()
	dir := t.TempDir()
	q, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = q.Close() })
	return q, dir
}

// testEnv returns an envelope with one recipient.
func testEnv(rcpt string) *envelope.Envelope {
	return &envelope.Envelope{
		Sender:     "sender@example.org",
		Recipients: []envelope.Recipient{{Address: rcpt}},
	}
}

// commitContent commits content in state and returns the envelope.
func commitContent(t testing.TB, q *Queue, env *envelope.Envelope, content []byte, state State) *envelope.Envelope {
	t.Helper()
	if err := tryCommitContent(q, env, content, state); err != nil {
		t.Fatal(err)
	}
	return env
}

// tryCommitContent commits content in 700-byte writes, for goroutines
// other than the test's.
func tryCommitContent(q *Queue, env *envelope.Envelope, content []byte, state State) error {
	d, err := q.NewDraft()
	if err != nil {
		return err
	}
	for rest := content; len(rest) > 0; {
		n := min(len(rest), 700)
		if _, err := d.Write(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return q.Commit(context.Background(), env, d, state)
}

// readContent returns the stored content of id.
func readContent(t testing.TB, q *Queue, id string) []byte {
	t.Helper()
	rc, size, err := q.Content(id)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(b)) != size {
		t.Fatalf("content %s: read %d bytes, size says %d", id, len(b), size)
	}
	return b
}

// contentFiles lists the content directory.
func contentFiles(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, "content"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// pattern returns n bytes of recognizable content.
func pattern(n int, seed string) []byte {
	b := bytes.Repeat([]byte(seed+"\r\n"), n/(len(seed)+2)+1)
	return b[:n]
}

func TestCommitRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		inFile bool
	}{
		{"empty", 0, false},
		{"small", 100, false},
		{"at limit", testInline, false},
		{"one above limit", testInline + 1, true},
		{"large", 300 << 10, true},
	}
	q, dir := openTest(t, Options{InlineLimit: testInline, CommitDelay: -1})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			content := pattern(tc.size, tc.name)
			env := commitContent(t, q, testEnv("rcpt@example.com"), content, Incoming)
			if !ValidID(env.ID) || env.Size != int64(tc.size) || env.Arrival.IsZero() {
				t.Fatalf("after commit: id %q size %d arrival %v", env.ID, env.Size, env.Arrival)
			}
			got, state, err := q.Get(env.ID)
			if err != nil || state != Incoming {
				t.Fatalf("Get = %v, %q, %v", got, state, err)
			}
			if got.Sender != env.Sender || got.Recipients[0].Address != "rcpt@example.com" || got.Size != env.Size {
				t.Fatalf("Get = %+v, want %+v", got, env)
			}
			if b := readContent(t, q, env.ID); !bytes.Equal(b, content) {
				t.Fatalf("content differs: %d bytes, want %d", len(b), len(content))
			}
			fi, err := os.Stat(filepath.Join(dir, "content", env.ID))
			if tc.inFile != (err == nil) {
				t.Fatalf("content file exists = %v, want %v", err == nil, tc.inFile)
			}
			if tc.inFile && (fi.Size() != int64(tc.size) || fi.Mode().Perm() != 0o600) {
				t.Fatalf("content file size %d mode %v", fi.Size(), fi.Mode())
			}
			for _, name := range contentFiles(t, dir) {
				if strings.HasPrefix(name, "tmp-") {
					t.Fatalf("temporary file %s left behind", name)
				}
			}
		})
	}
	fi, err := os.Stat(filepath.Join(dir, "queue.db"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("queue.db: %v, %v", fi, err)
	}
}

func TestConcurrentCommitsGroupCommit(t *testing.T) {
	dir := t.TempDir()
	q, err := Open(dir, Options{InlineLimit: testInline})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			d, err := q.NewDraft()
			if err != nil {
				errs <- err
				return
			}
			_, _ = d.Write(pattern(i*10, fmt.Sprint(i)))
			env := testEnv(fmt.Sprintf("r%d@example.com", i))
			if err := q.Commit(context.Background(), env, d, Incoming); err != nil {
				errs <- err
				return
			}
			ids[i] = env.ID
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := q.Stats()
	if st.Commits != n || st.Transactions > n/4 {
		t.Fatalf("stats %+v: want %d commits in far fewer transactions", st, n)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q, err = Open(dir, Options{InlineLimit: testInline})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	for i, id := range ids {
		if b := readContent(t, q, id); !bytes.Equal(b, pattern(i*10, fmt.Sprint(i))) {
			t.Fatalf("message %d (%s): content differs", i, id)
		}
	}
	if c := q.Counts()[Incoming]; c != n {
		t.Fatalf("incoming count %d, want %d", c, n)
	}
}

func TestUpdateAndDue(t *testing.T) {
	q, _ := openTest(t, Options{CommitDelay: -1})
	ctx := context.Background()
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	offsets := []time.Duration{5 * time.Minute, -time.Minute, -time.Hour, time.Hour, -30 * time.Second, 0}
	var envs []*envelope.Envelope
	for i, off := range offsets {
		env := testEnv(fmt.Sprintf("r%d@example.com", i))
		env.NextAttempt = now.Add(off)
		envs = append(envs, commitContent(t, q, env, []byte("x"), Deferred))
	}
	wantDue := func(t *testing.T, limit int, want ...int) {
		t.Helper()
		var got []string
		err := q.Due(now, limit, func(env *envelope.Envelope) error {
			got = append(got, env.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var wantIDs []string
		for _, i := range want {
			wantIDs = append(wantIDs, envs[i].ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(wantIDs) {
			t.Fatalf("Due(limit %d) = %v, want %v", limit, got, wantIDs)
		}
	}
	wantDue(t, 0, 2, 1, 4, 5)
	wantDue(t, 2, 2, 1)
	if next, ok := q.NextDue(); !ok || !next.Equal(now.Add(-time.Hour)) {
		t.Fatalf("NextDue = %v, %v", next, ok)
	}

	// Reschedule 2 later, activate 1, and delete 4.
	envs[2].NextAttempt = now.Add(10 * time.Minute)
	envs[2].Attempts = 3
	envs[2].Size = 12345 // must be ignored
	if err := q.Update(ctx, envs[2], Deferred); err != nil {
		t.Fatal(err)
	}
	if err := q.Update(ctx, envs[1], Active); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(ctx, envs[4].ID); err != nil {
		t.Fatal(err)
	}
	wantDue(t, 0, 5)
	got, state, err := q.Get(envs[2].ID)
	if err != nil || state != Deferred || got.Attempts != 3 || got.Size != 1 {
		t.Fatalf("Get after update = %+v, %q, %v", got, state, err)
	}
	if _, state, _ := q.Get(envs[1].ID); state != Active {
		t.Fatalf("state %q, want active", state)
	}
	want := map[State]int{Incoming: 0, Active: 1, Deferred: 4, Hold: 0, Corrupt: 0}
	if c := q.Counts(); fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("Counts = %v, want %v", c, want)
	}
	if next, ok := q.NextDue(); !ok || !next.Equal(now) {
		t.Fatalf("NextDue = %v, %v; want %v", next, ok, now)
	}
}

func TestUpdateDeleteErrors(t *testing.T) {
	q, _ := openTest(t, Options{CommitDelay: -1})
	ctx := context.Background()
	missing := q.NewID()
	tests := []struct {
		name    string
		do      func() error
		notFind bool
	}{
		{"update missing", func() error { return q.Update(ctx, &envelope.Envelope{ID: missing}, Hold) }, true},
		{"delete missing", func() error { return q.Delete(ctx, missing) }, true},
		{"get missing", func() error { _, _, err := q.Get(missing); return err }, true},
		{"content missing", func() error { _, _, err := q.Content(missing); return err }, true},
		{"get bad id", func() error { _, _, err := q.Get("../../x"); return err }, true},
		{"update bad state", func() error { return q.Update(ctx, &envelope.Envelope{ID: missing}, "bogus") }, false},
		{"delete bad id", func() error { return q.Delete(ctx, "a/b") }, false},
		{"walk bad state", func() error { return q.Walk("bogus", nil) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			if err == nil || errors.Is(err, ErrNotFound) != tc.notFind {
				t.Fatalf("error %v, want not-found %v", err, tc.notFind)
			}
		})
	}
}

func TestDeleteRemovesContent(t *testing.T) {
	q, dir := openTest(t, Options{InlineLimit: testInline, CommitDelay: -1})
	ctx := context.Background()
	small := commitContent(t, q, testEnv("a@example.com"), pattern(10, "s"), Hold)
	large := commitContent(t, q, testEnv("b@example.com"), pattern(5000, "l"), Hold)
	for _, id := range []string{small.ID, large.ID} {
		if err := q.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, _, err := q.Get(id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after delete: %v", err)
		}
	}
	if names := contentFiles(t, dir); len(names) != 0 {
		t.Fatalf("content files left: %v", names)
	}
	if c := q.Counts()[Hold]; c != 0 {
		t.Fatalf("hold count %d", c)
	}
}

func TestWalk(t *testing.T) {
	q, _ := openTest(t, Options{CommitDelay: -1, NoSync: true})
	ctx := context.Background()
	const n = walkChunk*2 + 5
	var ids []string
	for i := range n {
		ids = append(ids, commitContent(t, q, testEnv(fmt.Sprint(i)), []byte("x"), Incoming).ID)
	}
	// fn may write: move every message to hold while walking.
	var seen []string
	err := q.Walk(Incoming, func(env *envelope.Envelope) error {
		seen = append(seen, env.ID)
		return q.Update(ctx, env, Hold)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("walk order differs:\n%v\n%v", seen, ids)
	}
	if c := q.Counts(); c[Incoming] != 0 || c[Hold] != n {
		t.Fatalf("counts %v", c)
	}
	if got, err := q.IDs(Hold); err != nil || fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("IDs(Hold) = %v, %v; want %v", got, err, ids)
	}
	if got, err := q.IDs(Incoming); err != nil || len(got) != 0 {
		t.Fatalf("IDs(Incoming) = %v, %v; want none", got, err)
	}
	if _, err := q.IDs("bogus"); err == nil {
		t.Fatal("IDs of an invalid state: no error")
	}
	count := 0
	err = q.Walk(Hold, func(*envelope.Envelope) error {
		count++
		if count == 3 {
			return ErrStop
		}
		return nil
	})
	if err != nil || count != 3 {
		t.Fatalf("walk with ErrStop: %v after %d", err, count)
	}
	boom := errors.New("boom")
	if err := q.Walk(Hold, func(*envelope.Envelope) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("walk error %v, want boom", err)
	}
}

func TestRecover(t *testing.T) {
	dir := t.TempDir()
	opt := Options{InlineLimit: testInline, CommitDelay: -1}
	q, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	active := commitContent(t, q, testEnv("a@example.com"), pattern(3000, "a"), Active)
	activeSmall := commitContent(t, q, testEnv("a@example.com"), pattern(30, "a"), Active)
	lost := commitContent(t, q, testEnv("b@example.com"), pattern(3000, "b"), Active)
	short := commitContent(t, q, testEnv("c@example.com"), pattern(3000, "c"), Incoming)
	deferred := testEnv("d@example.com")
	deferred.NextAttempt = time.Now().Add(-time.Minute)
	commitContent(t, q, deferred, pattern(3000, "d"), Deferred)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	content := filepath.Join(dir, "content")
	orphan := q.NewID()
	for name, data := range map[string]string{orphan: "orphan", "tmp-123": "partial"} {
		if err := os.WriteFile(filepath.Join(content, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(content, lost.ID)); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(filepath.Join(content, short.ID), 100); err != nil {
		t.Fatal(err)
	}

	q, err = Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	moved, err := q.Recover()
	if err != nil || moved != 2 {
		t.Fatalf("Recover = %d, %v; want 2", moved, err)
	}
	wantState := map[string]State{active.ID: Incoming, activeSmall.ID: Incoming, lost.ID: Corrupt, short.ID: Corrupt, deferred.ID: Deferred}
	for id, want := range wantState {
		if _, state, err := q.Get(id); err != nil || state != want {
			t.Errorf("%s: state %q, %v; want %q", id, state, err, want)
		}
	}
	want := map[State]int{Incoming: 2, Active: 0, Deferred: 1, Hold: 0, Corrupt: 2}
	if c := q.Counts(); fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("Counts = %v, want %v", c, want)
	}
	for _, name := range contentFiles(t, dir) {
		if name == orphan || strings.HasPrefix(name, "tmp-") {
			t.Fatalf("%s not removed", name)
		}
	}
	n := 0
	if err := q.Due(time.Now(), 0, func(*envelope.Envelope) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("Due after recover: %d, %v", n, err)
	}
}

func TestSecondOpenFailsFast(t *testing.T) {
	_, dir := openTest(t, Options{})
	start := time.Now()
	q2, err := Open(dir, Options{})
	if err == nil {
		_ = q2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "is locked by another process") {
		t.Fatalf("error %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("second Open took %v", d)
	}
}

func TestCommitFailureRemovesContent(t *testing.T) {
	q, dir := openTest(t, Options{InlineLimit: testInline, CommitDelay: -1})
	first := commitContent(t, q, testEnv("a@example.com"), pattern(10, "first"), Incoming)
	tests := []struct {
		name string
		size int
	}{
		{"inline duplicate", 10},
		{"file duplicate", 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := q.NewDraft()
			_, _ = d.Write(pattern(tc.size, "dup"))
			env := testEnv("b@example.com")
			env.ID = first.ID
			err := q.Commit(context.Background(), env, d, Incoming)
			if !errors.Is(err, ErrExists) {
				t.Fatalf("duplicate commit: %v", err)
			}
			if names := contentFiles(t, dir); len(names) != 0 {
				t.Fatalf("files left: %v", names)
			}
			if b := readContent(t, q, first.ID); !bytes.Equal(b, pattern(10, "first")) {
				t.Fatal("original content changed")
			}
		})
	}
	d, _ := q.NewDraft()
	if err := q.Commit(context.Background(), &envelope.Envelope{ID: "bad/id"}, d, Incoming); err == nil {
		t.Fatal("commit with invalid id succeeded")
	}
	if err := q.Commit(context.Background(), testEnv("a@b"), nil, Incoming); err == nil {
		t.Fatal("commit without draft succeeded")
	}
	d, _ = q.NewDraft()
	if err := q.Commit(context.Background(), testEnv("a@b"), d, "bogus"); err == nil {
		t.Fatal("commit to invalid state succeeded")
	}
}

func TestDraftAbort(t *testing.T) {
	q, dir := openTest(t, Options{InlineLimit: testInline})
	d, err := q.NewDraft()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Write(pattern(3*testInline, "x")); err != nil {
		t.Fatal(err)
	}
	if d.Size() != 3*testInline || len(contentFiles(t, dir)) != 1 {
		t.Fatalf("size %d files %v", d.Size(), contentFiles(t, dir))
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := contentFiles(t, dir); len(names) != 0 {
		t.Fatalf("files left after abort: %v", names)
	}
	if _, err := d.Write([]byte("more")); err == nil {
		t.Fatal("write after abort succeeded")
	}
	if err := q.Commit(context.Background(), testEnv("a@b"), d, Incoming); err == nil {
		t.Fatal("commit of aborted draft succeeded")
	}
}

func TestBatchIsolatesFailures(t *testing.T) {
	q, _ := openTest(t, Options{})
	hard := errors.New("hard failure")
	var ok1, ok2, soft, bad *request
	mk := func(apply func(*bolt.Tx) error) *request {
		return &request{apply: apply, done: make(chan error, 1)}
	}
	put := func(key string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return bucket(tx, bktMeta).Put([]byte(key), []byte("v")) }
	}
	ok1, ok2 = mk(put("test/1")), mk(put("test/2"))
	soft = mk(func(*bolt.Tx) error { return reject(ErrNotFound) })
	bad = mk(func(tx *bolt.Tx) error {
		_ = put("test/bad")(tx)
		return hard
	})
	q.commit([]*request{ok1, soft, bad, ok2})
	for _, tc := range []struct {
		r    *request
		want error
	}{{ok1, nil}, {soft, ErrNotFound}, {bad, hard}, {ok2, nil}} {
		if err := <-tc.r.done; !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
			t.Errorf("outcome %v, want %v", err, tc.want)
		}
	}
	err := q.db.View(func(tx *bolt.Tx) error {
		m := bucket(tx, bktMeta)
		if m.Get([]byte("test/1")) == nil || m.Get([]byte("test/2")) == nil || m.Get([]byte("test/bad")) != nil {
			return errors.New("wrong writes committed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A failure of the commit itself reaches every waiter.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	a, b := mk(put("x")), mk(put("y"))
	q.commit([]*request{a, b})
	if <-a.done == nil || <-b.done == nil {
		t.Fatal("commit on closed database reported success")
	}
}

func TestClosedAndCancelled(t *testing.T) {
	q, _ := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A cancelled context may still win the race to join a batch; either
	// outcome must be truthful.
	env := testEnv("a@example.com")
	d, _ := q.NewDraft()
	err := q.Commit(ctx, env, d, Incoming)
	_, _, gerr := q.Get(env.ID)
	if (err == nil) != (gerr == nil) {
		t.Fatalf("commit %v but get %v", err, gerr)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := q.NewDraft(); !errors.Is(err, ErrClosed) {
		t.Fatalf("NewDraft after close: %v", err)
	}
	if err := q.Delete(context.Background(), q.NewID()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Delete after close: %v", err)
	}
}

func TestStateOf(t *testing.T) {
	q, _ := openTest(t, Options{CommitDelay: -1, NoSync: true})
	ctx := context.Background()
	in := commitContent(t, q, testEnv("a@example.com"), []byte("x"), Incoming)
	deferred := commitContent(t, q, testEnv("b@example.com"), []byte("x"), Incoming)
	if err := q.Update(ctx, deferred, Deferred); err != nil {
		t.Fatal(err)
	}
	gone := commitContent(t, q, testEnv("c@example.com"), []byte("x"), Incoming)
	if err := q.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id      string
		want    State
		missing bool
	}{
		{in.ID, Incoming, false},
		{deferred.ID, Deferred, false},
		{gone.ID, "", true},
		{"not-an-id", "", true},
	}
	for _, tt := range tests {
		got, err := q.StateOf(tt.id)
		if got != tt.want || errors.Is(err, ErrNotFound) != tt.missing {
			t.Errorf("StateOf(%s) = %q, %v; want %q, missing %v", tt.id, got, err, tt.want, tt.missing)
		}
	}
}

// TestReusedDraftBuffersKeepCommittedContent: a draft's inline buffer
// goes to later drafts once its commit is over; what was committed must
// not change when they overwrite it, nor an aborted or spilled draft's
// buffer leak into another message. Writers run at once, and commits
// wait for company, so that buffers change hands while batches are open.
func TestReusedDraftBuffersKeepCommittedContent(t *testing.T) {
	q, _ := openTest(t, Options{InlineLimit: testInline, CommitDelay: 2 * time.Millisecond, NoSync: true})
	const writers, each = 8, 20
	ids := make([][]string, writers)
	want := make([][][]byte, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				body := pattern(100+w*31+i*7, fmt.Sprint((w+i)%10))
				if i%5 == 4 { // spills to a file
					body = pattern(testInline+10, fmt.Sprint(i%10))
				}
				if i%7 == 3 { // an aborted draft between commits
					if d, err := q.NewDraft(); err == nil {
						d.Write(pattern(300, "z"))
						d.Abort()
					}
				}
				env := testEnv(fmt.Sprintf("r%d-%d@example.com", w, i))
				if err := tryCommitContent(q, env, body, Incoming); err != nil {
					t.Error(err)
					return
				}
				ids[w], want[w] = append(ids[w], env.ID), append(want[w], body)
			}
		}()
	}
	wg.Wait()
	for w := range writers {
		for i, id := range ids[w] {
			if got := readContent(t, q, id); !bytes.Equal(got, want[w][i]) {
				t.Errorf("writer %d message %d: content changed after later drafts (%d bytes, want %d)", w, i, len(got), len(want[w][i]))
			}
		}
	}
}
