package qmgr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/queue"
)

// gate is closed by the test to let a blocked agent answer; waiting on it
// is bounded so a failing test cannot hang.
func waitGate(gate chan struct{}) {
	select {
	case <-gate:
	case <-time.After(waitTimeout):
	}
}

func deferAll(r agentReq, dsn, text string) []agent.Result {
	out := make([]agent.Result, len(r.rcpts))
	for i := range out {
		out[i] = agent.Deferf(dsn, "%s", text)
	}
	return out
}

func TestDeferThenRetry(t *testing.T) {
	gate := make(chan struct{})
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		switch n {
		case 0:
			return deferAll(r, "4.2.2", "mailbox full")
		case 1:
			waitGate(gate) // hold the retry while the test looks at the queue
		}
		return allOK(r)
	}}
	h := newMTA(t, "minimal_backoff_time = 300ms\nmaximal_backoff_time = 300ms\n", fa)
	id := h.submit(rcpts("joe@example.com"), "Subject: retry\n\nx\n")
	reqs := h.waitRequests(2)
	env, state, err := h.m.q.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	if state != queue.Deferred || env.Attempts != 1 {
		t.Errorf("after one deferral: state %s attempts %d, want deferred 1", state, env.Attempts)
	}
	first, retry := reqs[0].at, reqs[1].at
	if env.NextAttempt.Before(first.Add(300*time.Millisecond)) || env.NextAttempt.After(first.Add(300*time.Millisecond+2*time.Second)) {
		t.Errorf("next attempt %v, want about %v", env.NextAttempt, first.Add(300*time.Millisecond))
	}
	if retry.Before(env.NextAttempt.Add(-5 * time.Millisecond)) {
		t.Errorf("retried at %v, before the back-off ended at %v", retry, env.NextAttempt)
	}
	rc := env.Recipients[0]
	if rc.Status != 0 || rc.DSN != "4.2.2" || rc.Reason != "mailbox full" {
		t.Errorf("recipient after deferral %+v", rc)
	}
	if reqs[1].env.ID != id {
		t.Errorf("retry of %s, want %s", reqs[1].env.ID, id)
	}
	close(gate)
	h.waitEmpty()
	log := h.log.String()
	for _, s := range []string{"dsn=4.2.2, status=deferred (mailbox full)", "to=<joe@example.com>, relay=local", "status=sent", id + ": removed"} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q", s)
		}
	}
}

func TestFlushRetriesAtOnce(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if n == 0 {
			return deferAll(r, "4.4.1", "connection refused")
		}
		return allOK(r)
	}}
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\nqueue_run_delay = 1h\n", fa)
	id := h.submit(rcpts("joe@example.com"), "Subject: flush\n\nx\n")
	env := h.waitState(id, queue.Deferred)
	if time.Until(env.NextAttempt) < 30*time.Minute {
		t.Fatalf("next attempt %v is not an hour away", env.NextAttempt)
	}
	if n := len(h.agent.requests()); n != 1 {
		t.Fatalf("%d attempts before the flush", n)
	}
	h.trigger("flush")
	h.waitRequests(2)
	h.waitEmpty()
}

func TestShowq(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result { return deferAll(r, "4.2.2", "mailbox full") }}
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\nqueue_run_delay = 1h\n", fa)
	if got := h.showq(); got != "Mail queue is empty\n" {
		t.Errorf("empty queue listing %q", got)
	}
	id := h.submit(rcpts("joe@example.com").Add("sender", "alice@example.com"), "Subject: q\n\n"+strings.Repeat("y", 1500)+"\n")
	env := h.waitState(id, queue.Deferred)
	got := h.showq()
	lines := strings.Split(got, "\n")
	want := []string{
		`^-Queue ID-     --Size-- ----Arrival Time---- -Sender/Recipient-------$`,
		`^` + id + ` +` + strconv.FormatInt(env.Size, 10) + ` +[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d alice@example\.com$`,
		`^ {45}\(mailbox full\)$`,
		`^ {45}joe@example\.com$`,
		`^$`,
		`^-- 2 Kbytes in 1 Request\.$`,
		`^$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("listing has %d lines, want %d:\n%s", len(lines), len(want), got)
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d %q does not match %s", i+1, lines[i], re)
		}
	}
	if env.Size < 1500 || env.Size > 2048 {
		t.Errorf("size %d: the Kbytes line assumes 1500..2048", env.Size)
	}
}

// TestRestartRedelivers stops the manager while the agent holds a
// delivery; the agent then dies without answering. A new manager on the
// same queue delivers the message again: at-least-once.
func TestRestartRedelivers(t *testing.T) {
	gate := make(chan struct{})
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if n == 0 {
			waitGate(gate)
			return nil // a wrong result count: the agent drops the connection
		}
		return allOK(r)
	}}
	h := newMTA(t, "", fa)
	id := h.submit(rcpts("joe@example.com"), "Subject: restart\n\nx\n")
	h.waitRequests(1)
	h.cancel()
	select {
	case <-h.done:
		t.Fatal("Run returned while a delivery was in progress")
	default:
	}
	close(gate)
	h.waitDone()
	if !strings.Contains(h.log.String(), id+": lost connection with local agent") {
		t.Errorf("log lacks the lost connection:\n%s", h.log.String())
	}
	h.start()
	reqs := h.waitRequests(2)
	h.waitEmpty()
	if reqs[1].env.ID != id {
		t.Errorf("second delivery of %s, want %s", reqs[1].env.ID, id)
	}
}

// TestRestartKeepsDeferred: a deferred message survives a restart with its
// reason and is not retried before its time, except on a flush.
func TestRestartKeepsDeferred(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		return deferAll(r, "4.3.0", "not yet")
	}}
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\nqueue_run_delay = 1h\n", fa)
	id := h.submit(rcpts("joe@example.com"), "Subject: again\n\nx\n")
	h.waitState(id, queue.Deferred)
	h.stop()
	fa.mu.Lock()
	fa.answer = nil
	fa.mu.Unlock()
	// A new manager does not retry a deferred message before its time ...
	h.start()
	if got := h.showq(); !strings.Contains(got, "(not yet)") {
		t.Errorf("listing after restart:\n%s", got)
	}
	// ... but a flush does.
	h.trigger("flush")
	h.waitRequests(2)
	h.waitEmpty()
}

func TestRetryOnlyPending(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if r.rcpts[0].Address == "later@example.com" && n < 2 {
			return deferAll(r, "4.2.2", "mailbox full")
		}
		return allOK(r)
	}}
	h := newMTA(t, "", fa)
	id := h.submit(rcpts("now@example.com", "later@example.com"), "Subject: two\n\nx\n")
	reqs := h.waitRequests(3)
	h.waitEmpty()
	count := map[string]int{}
	for _, r := range reqs {
		if r.env.ID != id || len(r.rcpts) != 1 {
			t.Fatalf("request %+v", r)
		}
		count[r.rcpts[0].Address]++
	}
	if count["now@example.com"] != 1 || count["later@example.com"] != 2 {
		t.Errorf("deliveries per recipient %v, want now once and later twice", count)
	}
}

func TestDelayWarningOnce(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if r.env.Sender == "" {
			return allOK(r)
		}
		return deferAll(r, "4.4.1", "connection refused")
	}}
	h := newMTA(t, "delay_warning_time = 1ms\n", fa)
	id := h.submit(rcpts("slow@example.com").Add("sender", "alice@example.com"), "Subject: slow\n\nx\n")
	// Wait for three attempts of the original: one warning, not three.
	waitFor(t, "three attempts", func() bool {
		n := 0
		for _, r := range h.agent.requests() {
			if r.env.ID == id {
				n++
			}
		}
		return n >= 3
	})
	var warnings []agentReq
	waitFor(t, "the delay warning", func() bool {
		warnings = notifications(h.agent.requests(), "")
		return len(warnings) >= 1
	})
	if len(warnings) != 1 || warnings[0].rcpts[0].Address != "alice@example.com" {
		t.Fatalf("warnings %+v", warnings)
	}
	ds := parseReport(t, warnings[0].body).parts["message/delivery-status"]
	for _, s := range []string{"Action: delayed", "Status: 4.4.1", "slow@example.com", "Will-Retry-Until: "} {
		if !strings.Contains(ds, s) {
			t.Errorf("delivery status lacks %q:\n%s", s, ds)
		}
	}
	h.waitLog(id + ": sender delay notification: ")
}

func TestRecipientGroupingPerDestination(t *testing.T) {
	h := newMTA(t, "default_destination_recipient_limit = 2\n", nil)
	h.startAgent("smtp")
	h.submit(rcpts("a@remote.org", "b@remote.org", "c@Remote.org", "d@remote.org", "e@remote.org", "f@other.org"), "Subject: many\n\nx\n")
	reqs := h.waitRequests(4)
	h.waitEmpty()
	sizes := map[string][]int{}
	for _, r := range reqs {
		if r.transport != "smtp" {
			t.Errorf("transport %q", r.transport)
		}
		sizes[r.nexthop] = append(sizes[r.nexthop], len(r.rcpts))
		for _, rc := range r.rcpts {
			if !strings.HasSuffix(strings.ToLower(rc.Address), "@"+r.nexthop) {
				t.Errorf("%s grouped under %s", rc.Address, r.nexthop)
			}
		}
	}
	if len(reqs) != 4 || len(sizes["remote.org"]) != 3 || len(sizes["other.org"]) != 1 {
		t.Errorf("requests per destination %v, want remote.org 2+2+1, other.org 1", sizes)
	}
	for _, n := range sizes["remote.org"] {
		if n > 2 {
			t.Errorf("%d recipients in one request, limit 2", n)
		}
	}
}

func TestUnavailableTransportDefers(t *testing.T) {
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", nil)
	id := h.submit(rcpts("joe@remote.org"), "Subject: nowhere\n\nx\n")
	env := h.waitState(id, queue.Deferred)
	if rc := env.Recipients[0]; rc.DSN != "4.3.0" || rc.Reason != "mail transport unavailable" {
		t.Errorf("recipient %+v", rc)
	}
	h.waitLog("connect to transport private/smtp")
	h.waitLog(id + ": to=<joe@remote.org>, relay=none, ")
}

// TestRetriedMessageDeliveredOnce pins the bug where a retried message was
// delivered again and again: its removal waits for a later commit, and a
// queue scan meanwhile found it still deferred in the database. The
// scheduler now forgets a message only once its removal is committed.
func TestRetriedMessageDeliveredOnce(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if n == 0 {
			return deferAll(r, "4.4.1", "connection refused")
		}
		return allOK(r)
	}}
	h := newMTA(t, "minimal_backoff_time = 10ms\nmaximal_backoff_time = 10ms\nqueue_run_delay = 10ms\n", fa)
	id := h.submit(rcpts("joe@example.com"), "Subject: once\n\nx\n")
	h.waitRequests(2)
	h.waitLog(id + ": removed")
	// Queue scans every 10 ms: a redelivery would show within this time.
	time.Sleep(300 * time.Millisecond)
	if n := len(h.agent.requests()); n != 2 {
		t.Errorf("%d delivery requests, want 2 (one deferral, one delivery)", n)
	}
}

// TestDeferTransports: defer_transports was warned about as having no
// effect. Mail for a listed transport is deferred ("deferred transport",
// 4.3.2) without calling the agent, also on later queue runs, until a
// flush (sendmail -q) delivers it.
func TestDeferTransports(t *testing.T) {
	h := newMTA(t, "defer_transports = local\n", nil)
	id := h.submit(rcpts("joe@example.com"), "Subject: held\n\nx\n")
	h.waitState(id, queue.Deferred)
	h.waitLog("dsn=4.3.2, status=deferred (deferred transport)")
	time.Sleep(300 * time.Millisecond) // several queue runs of 100ms
	if n := len(h.agent.requests()); n != 0 {
		t.Fatalf("the agent of a deferred transport was called %d times", n)
	}
	if _, state, err := h.m.q.Get(id); err != nil || state != queue.Deferred {
		t.Fatalf("message state %v, %v; want deferred", state, err)
	}
	h.trigger("flush")
	h.waitRequests(1)
	h.waitEmpty()
}

// TestActiveLimit: qmgr_message_active_limit was warned about as having
// no effect. With a limit of 2, only two messages are in delivery while
// their agent is stuck; the others wait in the queue and are all
// delivered once it answers. It also pins a bug: a scan of the incoming
// queue that stopped at the limit did not mark the rest as waiting, so
// they stayed in the queue (with the default limit: an incoming queue of
// more than 20,000 messages at start left the rest stranded).
func TestActiveLimit(t *testing.T) {
	gate := make(chan struct{})
	fa := &fakeAgent{answer: func(_ int, r agentReq) []agent.Result {
		waitGate(gate)
		return allOK(r)
	}}
	h := newMTA(t, "qmgr_message_active_limit = 2\n", fa)
	for i := 0; i < 5; i++ {
		h.submit(rcpts(fmt.Sprintf("user%d@example.com", i)), "Subject: limit\n\nx\n")
	}
	h.waitRequests(2)
	time.Sleep(200 * time.Millisecond)
	if n := len(h.agent.requests()); n != 2 {
		t.Errorf("%d deliveries started with an active limit of 2", n)
	}
	close(gate)
	h.waitRequests(5)
	h.waitEmpty()
}

// TestConfirmDelayCleared: confirm_delay_cleared was unknown. With it,
// a recipient named in the sender's delay warning is confirmed with a
// success notification once delivered; one delivered before the warning
// is not. Without it, the sender hears nothing more after the warning.
func TestConfirmDelayCleared(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[on], func(t *testing.T) {
			tries := map[string]int{}
			var mu sync.Mutex
			fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
				if r.env.Sender == "" || r.rcpts[0].Address == "now@example.com" {
					return allOK(r)
				}
				mu.Lock()
				defer mu.Unlock()
				if tries[r.rcpts[0].Address]++; tries[r.rcpts[0].Address] < 3 {
					return deferAll(r, "4.4.1", "connection refused")
				}
				return allOK(r)
			}}
			h := newMTA(t, fmt.Sprintf("delay_warning_time = 1ms\nconfirm_delay_cleared = %v\n", map[bool]string{true: "yes", false: "no"}[on]), fa)
			h.submit(rcpts("now@example.com", "slow@example.com").Add("sender", "alice@example.com"), "Subject: slow\n\nx\n")
			want := 1 // the delay warning
			if on {
				want = 2 // and the confirmation
			}
			var notes []agentReq
			waitFor(t, "the notifications", func() bool {
				notes = notifications(h.agent.requests(), "")
				return len(notes) >= want
			})
			h.waitEmpty()
			notes = notifications(h.agent.requests(), "")
			if len(notes) != want {
				t.Fatalf("%d notifications, want %d", len(notes), want)
			}
			if !on {
				return
			}
			ds := parseReport(t, notes[1].body).parts["message/delivery-status"]
			if !strings.Contains(ds, "Action: delivered") || !strings.Contains(ds, "slow@example.com") || strings.Contains(ds, "now@example.com") {
				t.Errorf("confirmation:\n%s", ds)
			}
		})
	}
}
