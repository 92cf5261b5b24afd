package qmgr

import (
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/postsuper"
	"github.com/tern-mta/tern/pkg/queue"
)

// admin sends a postsuper request and returns its counts.
func (h *testMTA) admin(op postsuper.Op, queues []string, ids ...string) (done, missing string) {
	h.t.Helper()
	req := ipc.Record{{Name: postsuper.AttrRequest, Value: string(op)}}
	for _, q := range queues {
		req = req.Add(postsuper.AttrQueue, q)
	}
	if len(ids) == 1 && ids[0] == "ALL" {
		req = req.Add(postsuper.AttrAll, "yes")
	} else {
		for _, id := range ids {
			req = req.Add(postsuper.AttrID, id)
		}
	}
	reply, c := h.call("qmgr", req, nil)
	c.Close()
	if reply.Get(postsuper.AttrStatus) != "ok" {
		h.t.Fatalf("%s: %v", op, reply)
	}
	return reply.Get(postsuper.AttrDone), reply.Get(postsuper.AttrMissing)
}

// deferring answers every delivery with a deferral, after any delay the
// test sets, and counts the requests per recipient.
type deferring struct {
	delivered atomic.Bool // answer OK from now on
}

func (d *deferring) answer(_ int, r agentReq) []agent.Result {
	if d.delivered.Load() {
		return allOK(r)
	}
	return deferAll(r, "4.2.2", "mailbox full")
}

func TestAdminHoldReleaseDeleteStored(t *testing.T) {
	d := &deferring{}
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", &fakeAgent{answer: d.answer})
	a := h.submit(rcpts("a@example.com"), "Subject: a\n\nx\n")
	b := h.submit(rcpts("b@example.com"), "Subject: b\n\nx\n")
	h.waitState(a, queue.Deferred)
	h.waitState(b, queue.Deferred)

	if done, missing := h.admin(postsuper.Hold, nil, "ALL"); done != "2" || missing != "0" {
		t.Fatalf("hold ALL: done %s missing %s, want 2 0", done, missing)
	}
	h.waitState(a, queue.Hold)
	h.waitState(b, queue.Hold)
	if q := h.showq(); strings.Count(q, "!") != 2 {
		t.Errorf("mailq does not mark both held:\n%s", q)
	}
	// Holding again changes nothing; an unknown id is missing.
	if done, missing := h.admin(postsuper.Hold, nil, a, "4jgPXv5SSV000"); done != "0" || missing != "1" {
		t.Errorf("hold again: done %s missing %s, want 0 1", done, missing)
	}
	// Release is due at once, despite the hour of back-off.
	d.delivered.Store(true)
	if done, _ := h.admin(postsuper.Release, nil, a); done != "1" {
		t.Fatalf("release: done %s, want 1", done)
	}
	h.waitLog(a + ": released from hold")
	waitFor(t, "the released message delivered", func() bool {
		_, err := h.m.q.StateOf(a)
		return err != nil
	})
	if st, _ := h.m.q.StateOf(b); st != queue.Hold {
		t.Errorf("the other message is in %s, want hold", st)
	}
	// Delete takes it out of hold without a bounce.
	before := len(h.agent.requests())
	if done, _ := h.admin(postsuper.Delete, []string{postsuper.QueueDeferred}, b); done != "0" {
		t.Errorf("delete from the deferred queue found the held message")
	}
	if done, _ := h.admin(postsuper.Delete, nil, b); done != "1" {
		t.Fatalf("delete: done %s, want 1", done)
	}
	h.waitLog(b + ": removed")
	h.waitEmpty()
	if n := len(h.agent.requests()); n != before {
		t.Errorf("deleting a held message made %d deliveries (a bounce?)", n-before)
	}
}

func TestAdminRequeueIsDueAtOnce(t *testing.T) {
	d := &deferring{}
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", &fakeAgent{answer: d.answer})
	id := h.submit(rcpts("a@example.com"), "Subject: a\n\nx\n")
	h.waitState(id, queue.Deferred)
	d.delivered.Store(true)
	if done, _ := h.admin(postsuper.Requeue, nil, id); done != "1" {
		t.Fatalf("requeue: done %s, want 1", done)
	}
	h.waitLog(id + ": requeued")
	h.waitEmpty()
	if n := len(h.agent.requests()); n != 2 {
		t.Errorf("%d deliveries, want 2 (the deferral and the requeued one)", n)
	}
}

// blockedAgent holds its first delivery until the test opens gate, and
// defers it; later ones are delivered.
func blockedAgent(gate chan struct{}, started chan<- struct{}) *fakeAgent {
	return &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if n == 0 {
			close(started)
			waitGate(gate)
			return deferAll(r, "4.2.2", "mailbox full")
		}
		return allOK(r)
	}}
}

// TestAdminMarksActiveMessage: an operation on a message being delivered
// takes effect when its pass ends; its jobs not started are not run.
func TestAdminMarksActiveMessage(t *testing.T) {
	for _, tc := range []struct {
		op        postsuper.Op
		wantState queue.State // "" for removed
		wantLog   string
	}{
		{postsuper.Hold, queue.Hold, "placed on hold"},
		{postsuper.Delete, "", "removed"},
	} {
		t.Run(string(tc.op), func(t *testing.T) {
			gate, started := make(chan struct{}), make(chan struct{})
			// One recipient per job and one worker: the second
			// job waits while the first is held up.
			h := newMTA(t, "local_destination_recipient_limit = 1\ndefault_process_limit = 1\n", blockedAgent(gate, started))
			id := h.submit(rcpts("a@example.com", "b@example.com"), "Subject: a\n\nx\n")
			waitGate(started)
			if done, _ := h.admin(tc.op, []string{postsuper.QueueDeferred}, id); done != "0" {
				t.Errorf("an active message was found in the deferred queue")
			}
			if done, _ := h.admin(tc.op, nil, id); done != "1" {
				t.Fatalf("%s: done %s, want 1", tc.op, done)
			}
			close(gate)
			h.waitLog(id + ": " + tc.wantLog)
			if tc.wantState == "" {
				h.waitEmpty()
			} else {
				env := h.waitState(id, tc.wantState)
				if p := env.Pending(); len(p) != 2 {
					t.Errorf("%d recipients pending, want 2", len(p))
				}
			}
			if n := len(h.agent.requests()); n != 1 {
				t.Errorf("%d deliveries, want 1: the second job should have been skipped", n)
			}
		})
	}
}

// TestAdminWaitsForEndingPass: a request that meets a message whose pass
// is ending waits for it and then changes the stored message.
func TestAdminWaitsForEndingPass(t *testing.T) {
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", &fakeAgent{answer: (&deferring{}).answer})
	id := h.submit(rcpts("a@example.com"), "Subject: a\n\nx\n")
	h.waitState(id, queue.Deferred)
	// Make the message active and its pass ending by hand.
	h.m.sched.mu.Lock()
	msg := &activeMsg{gone: make(chan struct{}), settling: true}
	h.m.sched.active[id] = msg
	h.m.sched.mu.Unlock()
	result := make(chan string, 1)
	go func() {
		done, _ := h.admin(postsuper.Hold, nil, id)
		result <- done
	}()
	select {
	case d := <-result:
		t.Fatalf("hold answered %s while the pass was ending", d)
	case <-time.After(50 * time.Millisecond):
	}
	h.m.sched.mu.Lock()
	delete(h.m.sched.active, id)
	h.m.sched.mu.Unlock()
	close(msg.gone)
	select {
	case d := <-result:
		if d != "1" {
			t.Errorf("hold: done %s, want 1", d)
		}
	case <-time.After(waitTimeout):
		t.Fatal("hold did not finish after the pass ended")
	}
	h.waitState(id, queue.Hold)
}

func TestAdminRequestErrors(t *testing.T) {
	h := newMTA(t, "", nil)
	for _, req := range []ipc.Record{
		{{Name: "request", Value: "delete"}},
		{{Name: "request", Value: "delete"}, {Name: "all", Value: "yes"}, {Name: "id", Value: "4jgPXv5SSV000"}},
		{{Name: "request", Value: "hold"}, {Name: "all", Value: "yes"}, {Name: "queue", Value: "maildrop"}},
	} {
		reply, c := h.call("qmgr", req, nil)
		c.Close()
		if reply.Get("status") != "error" || reply.Get("text") == "" {
			t.Errorf("%v: reply %v, want an error", req, reply)
		}
	}
}

func TestMoveTarget(t *testing.T) {
	tests := []struct {
		op   postsuper.Op
		from queue.State
		to   queue.State
		ok   bool
	}{
		{postsuper.Hold, queue.Deferred, queue.Hold, true},
		{postsuper.Hold, queue.Incoming, queue.Hold, true},
		{postsuper.Hold, queue.Hold, queue.Hold, false},
		{postsuper.Release, queue.Hold, queue.Deferred, true},
		{postsuper.Release, queue.Deferred, queue.Deferred, false},
		{postsuper.Requeue, queue.Hold, queue.Deferred, true},
		{postsuper.Requeue, queue.Incoming, queue.Deferred, true},
		{postsuper.Requeue, queue.Corrupt, "", false},
		{postsuper.Hold, queue.Corrupt, "", false},
	}
	for _, tt := range tests {
		to, ok := moveTarget(tt.op, tt.from)
		if ok != tt.ok || ok && to != tt.to {
			t.Errorf("moveTarget(%s, %s) = %s, %v; want %s, %v", tt.op, tt.from, to, ok, tt.to, tt.ok)
		}
	}
}

func TestShowMessage(t *testing.T) {
	d := &deferring{}
	h := newMTA(t, "minimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", &fakeAgent{answer: d.answer})
	id := h.submit(rcpts("a@example.com"), "Subject: look at me\n\nthe body\n")
	h.waitState(id, queue.Deferred)
	reply, c := h.call("showq", ipc.Record{{Name: "request", Value: "show"}, {Name: "id", Value: id}}, nil)
	defer c.Close()
	if reply.Get("status") != "ok" {
		t.Fatalf("show: %v", reply)
	}
	b, err := io.ReadAll(c.BodyReader())
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{"*** ENVELOPE RECORDS deferred/" + id + " ***\n", "\nrecipient: a@example.com\n",
		"\nreason: 4.2.2 mailbox full\n", "*** MESSAGE CONTENTS deferred/" + id + " ***\nReceived: ", "\nSubject: look at me\n", "\n\nthe body\n*** MESSAGE FILE END deferred/" + id + " ***\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("show output lacks %q:\n%s", want, s)
		}
	}
	reply, c2 := h.call("showq", ipc.Record{{Name: "request", Value: "show"}, {Name: "id", Value: "4jgPXv5SSV000"}}, nil)
	c2.Close()
	if reply.Get("status") != "error" || !strings.Contains(reply.Get("text"), "no such message") {
		t.Errorf("unknown id: %v", reply)
	}
}
