package qmgr

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

func TestFeedback(t *testing.T) {
	sent := agent.Result{Status: agent.OK, DSN: "2.0.0", Relay: "mx[192.0.2.1]:25"}
	refused := agent.Result{Status: agent.Defer, DSN: "4.4.1", Text: "connect to mx: Connection refused"}
	remote4xx := agent.Result{Status: agent.Defer, DSN: "4.2.2", Relay: "mx[192.0.2.1]:25"}
	bounced := agent.Result{Status: agent.Bounce, DSN: "5.1.1", Relay: "mx[192.0.2.1]:25"}
	dnsDown := agent.Result{Status: agent.Defer, DSN: "4.4.3"}
	tests := []struct {
		name    string
		results []agent.Result
		want    int
	}{
		{"sent", []agent.Result{sent}, 1},
		{"server answered 4xx", []agent.Result{remote4xx}, 1},
		{"server answered 5xx", []agent.Result{bounced}, 1},
		{"refused", []agent.Result{refused, refused}, -1},
		{"dns down", []agent.Result{dnsDown}, -1},
		{"agent unavailable", []agent.Result{agent.Deferf("4.3.0", "mail transport unavailable")}, -1},
		{"mixed", []agent.Result{refused, sent}, 1},
		{"local policy defer", []agent.Result{agent.Deferf("4.2.0", "mailbox busy")}, 0},
	}
	for _, tt := range tests {
		if got := feedback(tt.results); got != tt.want {
			t.Errorf("%s: feedback %d, want %d", tt.name, got, tt.want)
		}
	}
}

// TestSlowStartWindow: a destination starts at
// initial_destination_concurrency, grows by 1/window per delivery up to
// the limit, and shrinks towards 1 while it cannot be reached.
func TestSlowStartWindow(t *testing.T) {
	m := &Manager{settings: settings{initialConcurrency: 5, defaultConcurrency: 20, localConcurrency: 2}}
	tr := newTransport(&scheduler{m: m}, "smtp")
	j := &job{dest: "example.com"}
	if w := tr.window(j.dest, 20); w != 5 {
		t.Fatalf("initial window %d, want 5", w)
	}
	sent := []agent.Result{{Status: agent.OK, Relay: "mx[192.0.2.1]:25"}}
	for i := 0; i < 200; i++ {
		tr.busy[j.dest]++ // as take does
		tr.release(j, sent)
	}
	if w := tr.window(j.dest, 20); w != 20 {
		t.Errorf("window after 200 deliveries %d, want the limit 20", w)
	}
	refused := []agent.Result{{Status: agent.Defer, DSN: "4.4.1"}}
	for i := 0; i < 500; i++ {
		tr.busy[j.dest] += 2 // another job stays in flight: the state is kept
		tr.release(j, refused)
		tr.busy[j.dest]--
	}
	if w := tr.window(j.dest, 20); w != 1 {
		t.Errorf("window after 500 failures %d, want 1", w)
	}
	// The local transport's limit caps the window below the initial size.
	local := newTransport(&scheduler{m: m}, "local")
	if w := local.window("localhost", m.concurrencyLimit("local")); w != 2 {
		t.Errorf("local window %d, want 2", w)
	}
}

// TestBusyDestinationDoesNotBlockOthers: with one delivery at a time per
// destination, three messages for a stuck destination queued first do not
// hold up a message for another destination.
func TestBusyDestinationDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if strings.HasPrefix(r.rcpts[0].Address, "stuck@") {
			select {
			case <-release:
			case <-time.After(waitTimeout):
			}
		}
		return allOK(r)
	}}
	h := newMTA(t, "local_destination_concurrency_limit = 1\n", fa)
	defer close(release)
	for i := 0; i < 3; i++ {
		h.submit(rcpts("stuck@example.com").Add("sender", "a@example.com"), fmt.Sprintf("Subject: %d\n\nx\n", i))
	}
	other := h.submit(rcpts("free@example.com").Add("sender", "a@example.com"), "Subject: other\n\nx\n")
	h.waitLog(other + ": removed")
	if n := len(h.agent.requests()); n != 2 {
		t.Errorf("%d deliveries started, want 2 (one stuck, one free)", n)
	}
}

// TestPerTransportLimits: transport_destination_recipient_limit and
// _concurrency_limit are read for the transport at hand, as Postfix reads
// them for any master.cf transport name.
func TestPerTransportLimits(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader(
		"smtp_destination_recipient_limit = 7\nrelay_destination_concurrency_limit = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{cfg: cfg, log: maillog.NewWriter(io.Discard, "qmgr"), settings: loadSettings(cfg)}
	tests := []struct {
		got, want int
		what      string
	}{
		{m.recipientLimit("smtp"), 7, "smtp recipients"},
		{m.recipientLimit("relay"), 50, "relay recipients: default_destination_recipient_limit"},
		{m.recipientLimit("local"), 1, "local recipients"},
		{m.concurrencyLimit("relay"), 3, "relay concurrency"},
		{m.concurrencyLimit("smtp"), 20, "smtp concurrency ($default_destination_concurrency_limit)"},
		{m.concurrencyLimit("local"), 2, "local concurrency"},
		{m.concurrencyLimit("lmtp"), 20, "lmtp concurrency"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %d, want %d", tt.what, tt.got, tt.want)
		}
	}
	if got := (&Manager{settings: settings{defaultConcurrency: 20}}).concurrencyLimit("smtp"); got != 20 {
		t.Errorf("without a configuration: %d, want the default", got)
	}
}

// TestDeadDestination: a destination that cannot be reached even one job
// at a time is suspended until the next queue run, with the reason of the
// failure, and a success or the end of the suspension lifts it.
func TestDeadDestination(t *testing.T) {
	m := &Manager{settings: settings{initialConcurrency: 1, defaultConcurrency: 20, queueRunDelay: time.Hour}}
	tr := newTransport(&scheduler{m: m}, "smtp")
	j := &job{dest: "down.example"}
	refused := []agent.Result{{Status: agent.Defer, DSN: "4.4.1", Text: "connect to mx.down.example[192.0.2.1]:25: Connection refused"}}
	tr.busy[j.dest]++
	tr.release(j, refused)
	r, dead := tr.suspended(j.dest)
	if !dead || r.Status != agent.Defer || r.DSN != "4.4.1" ||
		r.Text != "delivery temporarily suspended: connect to mx.down.example[192.0.2.1]:25: Connection refused" {
		t.Fatalf("suspended = %+v, %v", r, dead)
	}
	// Suspended jobs do not extend the suspension.
	until := tr.dead[j.dest].until
	tr.busy[j.dest]++
	tr.release(j, []agent.Result{r})
	if tr.dead[j.dest].until != until {
		t.Errorf("a suspended job extended the suspension")
	}
	tr.busy[j.dest]++
	tr.release(j, []agent.Result{{Status: agent.OK, Relay: "mx.down.example[192.0.2.1]:25"}})
	if _, dead := tr.suspended(j.dest); dead {
		t.Errorf("still suspended after a delivery")
	}
	tr.dead[j.dest] = deadDest{until: time.Now().Add(-time.Second), why: refused[0]}
	if _, dead := tr.suspended(j.dest); dead {
		t.Errorf("still suspended after the suspension ended")
	}
	if _, dead := tr.suspended("other.example"); dead {
		t.Errorf("another destination suspended")
	}
}

// workerlessTransport returns a manager with main.cf lines mainCF and its
// transport name, which starts no workers: the test takes jobs itself.
func workerlessTransport(t *testing.T, mainCF, name string) (*Manager, *transport) {
	t.Helper()
	cfg, err := config.Parse("main.cf", strings.NewReader(mainCF))
	if err != nil {
		t.Fatal(err)
	}
	m := &Manager{cfg: cfg, log: maillog.NewWriter(io.Discard, "tern/qmgr"),
		settings: settings{initialConcurrency: 5, defaultConcurrency: 20, processLimit: 10}}
	tr := newTransport(&scheduler{m: m}, name)
	tr.start = func() {}
	return m, tr
}

// TestDestinationRateDelay: default_destination_rate_delay and
// transport_destination_rate_delay were warned about as having no
// effect. With a delay a destination runs one job at a time and its next
// job becomes ready only the delay after the last ended; other
// destinations are not held up.
func TestDestinationRateDelay(t *testing.T) {
	m, tr := workerlessTransport(t, "default_destination_rate_delay = 5s\nslow_destination_rate_delay = 150ms\n", "slow")
	if d := m.rateDelay("smtp"); d != 5*time.Second {
		t.Errorf("rateDelay(smtp) = %v, want the default 5s", d)
	}
	if tr.rateDelay != 150*time.Millisecond {
		t.Fatalf("rate delay %v", tr.rateDelay)
	}
	for i := 0; i < 3; i++ {
		tr.enqueue(&job{dest: "gmail.example"})
	}
	tr.enqueue(&job{dest: "other.example"})
	tr.mu.Lock()
	first, other, none := tr.next(20), tr.next(20), tr.next(20)
	tr.mu.Unlock()
	if first == nil || first.dest != "gmail.example" || other == nil || other.dest != "other.example" || none != nil {
		t.Fatalf("jobs taken at once: %v %v %v, want one per destination", first, other, none)
	}
	ended := time.Now()
	tr.release(first, []agent.Result{{Status: agent.OK, Relay: "mx[192.0.2.1]:25"}})
	tr.mu.Lock()
	early := tr.next(20)
	tr.mu.Unlock()
	// A job is early only if the delay had not passed when next ran:
	// on a busy machine this goroutine may be paused past it.
	if early != nil && time.Since(ended) < 150*time.Millisecond {
		t.Fatalf("the next job started within the rate delay")
	}
	second := early
	deadline := time.Now().Add(5 * time.Second)
	for second == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		tr.mu.Lock()
		second = tr.next(20)
		tr.mu.Unlock()
	}
	if second == nil || second.dest != "gmail.example" {
		t.Fatalf("no job after the rate delay")
	}
	if waited := time.Since(ended); waited < 150*time.Millisecond {
		t.Errorf("the next job came %v after the last ended, want at least 150ms", waited)
	}
	tr.stop()
}

// TestTransportRateDelay: default_transport_rate_delay and
// transport_transport_rate_delay (Postfix 3.5) were warned about as
// having no effect. With a delay the transport runs one job at a time,
// whatever the destination, and starts the next only the delay after the
// last ended; a skipped job holds nothing back.
func TestTransportRateDelay(t *testing.T) {
	m, tr := workerlessTransport(t, "default_transport_rate_delay = 5s\nslow_transport_rate_delay = 150ms\n", "slow")
	if d := m.transportRateDelay("smtp"); d != 5*time.Second {
		t.Errorf("transportRateDelay(smtp) = %v, want the default 5s", d)
	}
	for _, dest := range []string{"a.example", "b.example", "c.example"} {
		tr.enqueue(&job{dest: dest})
	}
	take := func() *job {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		return tr.next(20)
	}
	first := take()
	if first == nil {
		t.Fatal("no first job")
	}
	if other := take(); other != nil {
		t.Fatalf("a second job (%s) ran beside the first", other.dest)
	}
	// A job that delivered nothing holds nothing back.
	tr.release(first, nil)
	skippedNext := take()
	if skippedNext == nil {
		t.Fatal("a skipped job held the transport back")
	}
	ended := time.Now()
	tr.release(skippedNext, []agent.Result{{Status: agent.OK, Relay: "mx[192.0.2.1]:25"}})
	early := take()
	if early != nil && time.Since(ended) < 150*time.Millisecond {
		t.Fatalf("job for %s started within the rate delay", early.dest)
	}
	third := early
	deadline := time.Now().Add(5 * time.Second)
	for third == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		third = take()
	}
	if third == nil {
		t.Fatalf("no job after the rate delay")
	}
	if waited := time.Since(ended); waited < 150*time.Millisecond {
		t.Errorf("the next job came %v after the last ended, want at least 150ms", waited)
	}
	tr.stop()
}
