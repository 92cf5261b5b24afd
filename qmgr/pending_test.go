package qmgr

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

// takeAll takes jobs while one is ready and returns their names.
func takeAll(tr *transport, limit int) []string {
	var got []string
	for j := tr.next(limit); j != nil; j = tr.next(limit) {
		got = append(got, j.route.nexthop)
	}
	return got
}

func testJob(dest, name string) *job { return &job{dest: dest, route: route{nexthop: name}} }

// TestTransportTakesDestinationsInTurn: destinations with waiting jobs
// take turns, oldest first within each; one at its window is passed over
// until one of its jobs ends.
func TestTransportTakesDestinationsInTurn(t *testing.T) {
	tests := []struct {
		name    string
		limit   int // per destination; the initial window is 5
		jobs    []string
		busy    map[string]int
		want    string
		pending int // jobs still waiting
	}{
		{"one destination", 20, []string{"a:1", "a:2", "a:3"}, nil, "1 2 3", 0},
		{"turns", 20, []string{"a:a1", "a:a2", "a:a3", "b:b1", "c:c1", "b:b2"}, nil, "a1 b1 c1 a2 b2 a3", 0},
		{"window caps a destination", 2, []string{"a:a1", "a:a2", "a:a3", "b:b1"}, nil, "a1 b1 a2", 1},
		{"busy destination passed over", 2, []string{"a:a1", "b:b1"}, map[string]int{"a": 2}, "b1", 1},
		{"no limit", 0, []string{"a:1", "a:2", "a:3", "a:4", "a:5", "a:6", "a:7"}, nil, "1 2 3 4 5 6 7", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{settings: settings{initialConcurrency: 5}}
			tr := newTransport(&scheduler{m: m}, "smtp")
			for d, n := range tt.busy {
				tr.busy[d] = n
			}
			for _, spec := range tt.jobs {
				dest, name, _ := strings.Cut(spec, ":")
				tr.addPending(testJob(dest, name), tt.limit)
			}
			if got := strings.Join(takeAll(tr, tt.limit), " "); got != tt.want {
				t.Errorf("taken %q, want %q", got, tt.want)
			}
			waiting := 0
			for _, q := range tr.queues {
				waiting += len(q.jobs)
			}
			if waiting != tt.pending {
				t.Errorf("%d jobs waiting, want %d", waiting, tt.pending)
			}
		})
	}
}

// TestTransportReleaseReadiesDestination: a destination held at its
// window gets its next job once one of its jobs ends, also when it has
// 100,000 jobs waiting (the scan of every waiting job per take, repeated
// by every idle worker, took 45% of qmgr's CPU in a local delivery run).
func TestTransportReleaseReadiesDestination(t *testing.T) {
	m := &Manager{settings: settings{initialConcurrency: 5, defaultConcurrency: 20}}
	tr := newTransport(&scheduler{m: m}, "smtp")
	const n = 100000
	for i := range n {
		tr.addPending(testJob("big.example", fmt.Sprint(i)), 2)
	}
	tr.addPending(testJob("small.example", "s"), 2)
	if got := strings.Join(takeAll(tr, 2), " "); got != "0 s 1" {
		t.Fatalf("first round %q, want %q", got, "0 s 1")
	}
	sent := []agent.Result{{Status: agent.OK, Relay: "mx[192.0.2.1]:25"}}
	for i := 2; i < n; i++ {
		tr.mu.Lock()
		tr.releaseLocked(testJob("big.example", ""), sent, 2)
		j := tr.next(2)
		tr.mu.Unlock()
		if j == nil || j.route.nexthop != fmt.Sprint(i) {
			t.Fatalf("after release %d: got %v, want job %d", i, j, i)
		}
	}
	if len(tr.queues) != 0 || tr.ready.len() != 0 {
		t.Errorf("queues %d, ready %d after the last job, want none", len(tr.queues), tr.ready.len())
	}
}

// TestTransportStartsWorkersForReadyJobs: jobs that may run at once get a
// worker each, up to default_process_limit, and no more than that: a
// destination at its window starts none, and a starting worker is not
// doubled. Workers are counted, not run.
func TestTransportStartsWorkersForReadyJobs(t *testing.T) {
	tests := []struct {
		name        string
		limit       int // destination concurrency
		processes   int // default_process_limit
		jobs        []string
		wantStarted int // with each worker taking its job once started
	}{
		{"one job", 20, 100, []string{"a"}, 1},
		{"window of two, five jobs", 2, 100, []string{"a", "a", "a", "a", "a"}, 2},
		{"initial window of five", 20, 100, []string{"a", "a", "a", "a", "a", "a", "a"}, 5},
		{"three destinations", 1, 100, []string{"a", "b", "c", "a"}, 3},
		{"process limit", 20, 2, []string{"a", "b", "c", "d"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manager{settings: settings{initialConcurrency: 5, processLimit: tt.processes}}
			tr := newTransport(&scheduler{m: m}, "smtp")
			started := 0
			tr.start = func() { started++ }
			tr.mu.Lock()
			defer tr.mu.Unlock()
			for i, d := range tt.jobs {
				tr.addPending(testJob(d, fmt.Sprint(i)), tt.limit)
				tr.wake()
			}
			// Each started worker looks for a job, as worker and take do,
			// and passes the wake-up on.
			for taken := 0; taken < started; taken++ {
				tr.starting--
				if tr.next(tt.limit) == nil {
					t.Fatalf("worker %d found no job", taken+1)
				}
				tr.wake()
			}
			if started != tt.wantStarted {
				t.Errorf("%d workers started, want %d", started, tt.wantStarted)
			}
			tr.s.running.Add(-started)
		})
	}
}

// TestLocalRecipientGetsItsConcurrency: messages for one local user are
// delivered local_destination_concurrency_limit (2) at a time, no fewer
// and no more. Deliveries are held until all six messages are queued, so
// the scheduler has work for more than two.
func TestLocalRecipientGetsItsConcurrency(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	gate := make(chan struct{})
	fa := &fakeAgent{answer: func(_ int, r agentReq) []agent.Result {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		<-gate
		mu.Lock()
		inFlight--
		mu.Unlock()
		return allOK(r)
	}}
	h := newMTA(t, "", fa)
	for i := range 6 {
		h.submit(rcpts("joe@example.com"), fmt.Sprintf("Subject: %d\n\nhello\n", i))
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		mu.Lock()
		n := inFlight
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	h.waitRequests(6)
	h.waitEmpty()
	mu.Lock()
	defer mu.Unlock()
	if most != 2 {
		t.Errorf("at most %d deliveries to joe at once, want 2", most)
	}
}
