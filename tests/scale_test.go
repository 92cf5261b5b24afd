package tests

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/queue"
)

// fillDeferred writes n deferred 1 KB messages straight into the queue of
// a stopped instance, as if a long outage had built them up.
func fillDeferred(t *testing.T, queueDir string, n int) {
	t.Helper()
	// The population is not what is measured: skip the fsyncs.
	q, err := queue.Open(queueDir, queue.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	body := "Subject: waiting\n\n" + strings.Repeat("x", 1000) + "\n"
	next := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 64 {
				d, err := q.NewDraft()
				if err == nil {
					_, err = d.Write([]byte(body))
				}
				if err != nil {
					errs <- err
					return
				}
				env := &envelope.Envelope{ID: q.NewID(), Sender: "sender@example.tst", Arrival: time.Now(),
					NextAttempt: next, Attempts: 1,
					Recipients: []envelope.Recipient{{Address: fmt.Sprintf("user%d@far.tst", i), Reason: "connect to far.tst: Connection refused", DSN: "4.4.1"}}}
				if err := q.Commit(context.Background(), env, d, queue.Deferred); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLargeDeferredQueue: with 100,000 deferred messages, qmgr starts and
// mailq lists the queue in seconds, and qmgr's memory stays bounded.
func TestLargeDeferredQueue(t *testing.T) {
	const n = 100000
	in := newInstance(t, options{})
	in.run("tern", "check") // creates the queue folders
	start := time.Now()
	fillDeferred(t, in.queue, n)
	t.Logf("wrote %d deferred messages in %v", n, time.Since(start).Round(time.Millisecond))
	if isRoot() {
		// qmgr runs as mail_owner and must own its database.
		out, err := exec.Command("chown", "-R", "postfix:", in.queue).CombinedOutput()
		if err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	for round := 1; round <= 2; round++ {
		start = time.Now()
		in.start()
		want := fmt.Sprintf("queue: 0 incoming, %d deferred", n)
		waitFor(t, 60*time.Second, "qmgr's queue summary", func() bool { return strings.Count(in.log(), want) >= round })
		ready := time.Since(start)
		start = time.Now()
		out := in.run("mailq")
		listed := time.Since(start)
		if !strings.Contains(out, fmt.Sprintf("in %d Requests.", n)) {
			t.Fatalf("mailq summary wrong: %q", lastLine(out))
		}
		anon, peak := qmgrMemory(t, in)
		t.Logf("round %d: qmgr ready in %v, mailq of %d messages in %v (%d bytes of output); qmgr anonymous RSS %d KiB, peak RSS with queue.db pages %d KiB",
			round, ready.Round(time.Millisecond), n, listed.Round(time.Millisecond), len(out), anon, peak)
		if ready > 30*time.Second || listed > 30*time.Second {
			t.Errorf("round %d: start %v, mailq %v: not seconds", round, ready, listed)
		}
		if anon > 64*1024 {
			t.Errorf("qmgr holds %d KiB of heap with %d deferred messages", anon, n)
		}
		in.stop()
	}
}

// qmgrMemory returns qmgr's anonymous resident memory (its heap and
// stacks, without the pages of queue.db that bbolt maps and the kernel may
// drop at will) and its peak resident memory, in KiB.
func qmgrMemory(t *testing.T, in *instance) (anon, peak int) {
	t.Helper()
	pids := in.daemonPIDs("qmgr")
	if len(pids) != 1 {
		t.Fatalf("%d qmgr processes", len(pids))
	}
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pids[0]), "status"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.Atoi(f[1])
		switch f[0] {
		case "RssAnon:":
			anon = v
		case "VmHWM:":
			peak = v
		}
	}
	return anon, peak
}
