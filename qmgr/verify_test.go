package qmgr

import (
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/ipc"
)

// verifyQuery asks qmgr about addr as smtpd does.
func (h *testMTA) verifyQuery(addr string) (status, text string) {
	h.t.Helper()
	reply, c := h.call("cleanup", ipc.Record{{Name: "request", Value: "verify"}, {Name: "address", Value: addr}}, nil)
	c.Close()
	return reply.Get("status"), reply.Get("text")
}

// TestVerifyProbes: address verification answers "unknown" until its
// probe returns, then from its cache: the agent got a probe (flagged, no
// content, the double-bounce sender) for the routed address, nothing was
// queued, and a cached answer costs no new probe; the error transport
// needs no agent.
func TestVerifyProbes(t *testing.T) {
	fa := &fakeAgent{answer: func(_ int, r agentReq) []agent.Result {
		if r.rcpts[0].Address == "joe@example.com" {
			return []agent.Result{{Status: agent.OK, DSN: "2.0.0", Text: "delivers to mailbox"}}
		}
		return []agent.Result{agent.Bouncef("5.1.1", "unknown user: %q", r.rcpts[0].Address)}
	}}
	h := newMTA(t, "transport_maps = inline:{ {blocked.example = error:5.7.1 no mail here} }\n", fa)
	poll := func(addr string) (string, string) {
		deadline := time.Now().Add(waitTimeout)
		for {
			st, text := h.verifyQuery(addr)
			if st != "unknown" || time.Now().After(deadline) {
				return st, text
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st, text := h.verifyQuery("joe@example.com"); st != "unknown" || text != "Address verification in progress" {
		t.Errorf("first query: %s (%s), want unknown", st, text)
	}
	if st, text := poll("joe@example.com"); st != "deliverable" || text != "delivers to mailbox" {
		t.Errorf("joe: %s (%s)", st, text)
	}
	if st, text := poll("nobody@example.com"); st != "undeliverable" || text != `unknown user: "nobody@example.com"` {
		t.Errorf("nobody: %s (%s)", st, text)
	}
	if st, text := poll("x@blocked.example"); st != "undeliverable" || text != "no mail here" {
		t.Errorf("error transport: %s (%s)", st, text)
	}
	reqs := h.agent.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d probes, want 2", len(reqs))
	}
	if r := reqs[0]; !r.env.Probe || r.body != "" || r.env.Sender != "double-bounce@example.com" || r.transport != "local" {
		t.Errorf("probe request %+v", r)
	}
	h.verifyQuery("joe@example.com")
	if n := len(h.agent.requests()); n != 2 {
		t.Errorf("a cached answer sent another probe (%d)", n)
	}
	if !h.queueEmpty() {
		t.Errorf("probes left mail in the queue")
	}
}

// TestVerifySweep: expired answers leave the cache at the clean-up
// interval, so that it does not keep every address ever asked about;
// answers being probed and fresh ones stay.
func TestVerifySweep(t *testing.T) {
	now := time.Now()
	v := &verifier{cache: map[string]*verifyEntry{
		"old@x":     {status: verifyUndeliverable, updated: now.Add(-4 * 24 * time.Hour)},
		"fresh@x":   {status: verifyUndeliverable, updated: now.Add(-time.Hour)},
		"good@x":    {status: verifyDeliverable, updated: now.Add(-10 * 24 * time.Hour)},
		"probing@x": {probing: true},
	}, set: verifySettings{negativeExpire: 3 * 24 * time.Hour, positiveExpire: 31 * 24 * time.Hour, cleanupInterval: 12 * time.Hour}}
	v.sweep(now)
	for k, want := range map[string]bool{"old@x": false, "fresh@x": true, "good@x": true, "probing@x": true} {
		if _, ok := v.cache[k]; ok != want {
			t.Errorf("%s kept %v, want %v", k, ok, want)
		}
	}
	v.cache["old2@x"] = &verifyEntry{status: verifyUndeliverable, updated: now.Add(-4 * 24 * time.Hour)}
	v.sweep(now.Add(time.Hour)) // before the next clean-up
	if _, ok := v.cache["old2@x"]; !ok {
		t.Error("swept again before the interval")
	}
}

// TestVerifyRouting: address_verify_transport_maps (and the other
// address_verify_* routing parameters) were warned about as having no
// effect. They route probes only: here probes for example.com go to the
// error transport, while mail still goes to local.
func TestVerifyRouting(t *testing.T) {
	h := newMTA(t, "address_verify_transport_maps = inline:{ {example.com = error:5.1.1 probed elsewhere} }\n", nil)
	deadline := time.Now().Add(waitTimeout)
	st, text := h.verifyQuery("joe@example.com")
	for st == "unknown" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		st, text = h.verifyQuery("joe@example.com")
	}
	if st != "undeliverable" || text != "probed elsewhere" {
		t.Errorf("probe: %s (%s)", st, text)
	}
	if n := len(h.agent.requests()); n != 0 {
		t.Errorf("the probe reached the local agent (%d requests)", n)
	}
	h.submit(rcpts("joe@example.com"), "Subject: mail\n\nx\n")
	if r := h.waitRequests(1)[0]; r.transport != "local" {
		t.Errorf("mail went to %q, want local", r.transport)
	}
}

// TestProbeSender: address_verify_sender_ttl was accepted and ignored.
// With it the probe sender's local part gets a part that changes once per
// period, as in Postfix; the null sender and a zero ttl are unchanged.
func TestProbeSender(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Unix(1_800_000_000, 0)
	a := probeSender("double-bounce@example.com", day, t0)
	if !strings.HasPrefix(a, "double-bounce") || !strings.HasSuffix(a, "@example.com") || a == "double-bounce@example.com" {
		t.Errorf("probe sender %q", a)
	}
	if b := probeSender("double-bounce@example.com", day, t0.Add(time.Minute)); b != a && t0.Unix()%86400 < 86340 {
		t.Errorf("changed within a period: %q then %q", a, b)
	}
	if c := probeSender("double-bounce@example.com", day, t0.Add(day)); c == a {
		t.Errorf("unchanged after a period: %q", c)
	}
	if got := probeSender("", day, t0); got != "" {
		t.Errorf("null sender became %q", got)
	}
	if got := probeSender("double-bounce@example.com", 0, t0); got != "double-bounce@example.com" {
		t.Errorf("no ttl: %q", got)
	}
}
