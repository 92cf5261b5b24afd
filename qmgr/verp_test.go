package qmgr

import (
	"slices"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// verpSubmit submits a message from list@example.com with VERP to joe
// and ann.
func verpSubmit(h *testMTA, verp string) {
	env := &envelope.Envelope{Sender: "list@example.com", VERP: verp}
	req := env.Record().Add("request", "submit")
	for _, a := range []string{"joe@example.com", "ann@example.com"} {
		req = req.Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: a}))
	}
	reply, c := h.call("cleanup", req, []byte("Subject: list mail\n\nx\n"))
	c.Close()
	if reply.Get("status") != "ok" {
		h.t.Fatalf("submit: %v", reply)
	}
}

// TestVERPDelivery: VERP was not supported (authorized_verp_clients was
// warned about). A VERP message now goes to each recipient alone, with
// the recipient encoded in the sender, as Postfix sends it.
func TestVERPDelivery(t *testing.T) {
	h := newMTA(t, "", nil)
	verpSubmit(h, "+=")
	var senders []string
	for _, r := range h.waitRequests(2) {
		if len(r.rcpts) != 1 {
			t.Errorf("a request with %d recipients", len(r.rcpts))
		}
		senders = append(senders, r.env.Sender)
	}
	slices.Sort(senders)
	want := []string{"list+ann=example.com@example.com", "list+joe=example.com@example.com"}
	if !slices.Equal(senders, want) {
		t.Errorf("senders %q, want %q", senders, want)
	}
	h.waitLog(": from=<list@example.com>, size=")
}

// TestVERPBounces: a VERP message's failed recipients bounce one by one,
// each to its VERP sender; with disable_verp_bounces, in one notice to
// the sender.
func TestVERPBounces(t *testing.T) {
	bounceMembers := func(_ int, r agentReq) []agent.Result {
		if r.env.Sender == "" {
			return allOK(r) // the notices
		}
		return []agent.Result{agent.Bouncef("5.1.1", "unknown user")}
	}
	for _, tt := range []struct {
		conf string
		want []string // recipients of the notices
	}{
		{"", []string{"list+ann=example.com@example.com", "list+joe=example.com@example.com"}},
		{"disable_verp_bounces = yes\n", []string{"list@example.com"}},
	} {
		h := newMTA(t, tt.conf, &fakeAgent{answer: bounceMembers})
		verpSubmit(h, "+=")
		h.waitEmpty()
		var got []string
		for _, r := range h.agent.requests() {
			if r.env.Sender == "" {
				for _, rc := range r.rcpts {
					got = append(got, rc.Address)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: notices to %q, want %q", tt.conf, got, tt.want)
		}
	}
}

// TestVERPBadDelimiters: delimiters outside verp_delimiter_filter are
// refused.
func TestVERPBadDelimiters(t *testing.T) {
	h := newMTA(t, "", nil)
	env := &envelope.Envelope{Sender: "list@example.com", VERP: "+x"}
	req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "joe@example.com"}))
	reply, c := h.call("cleanup", req, []byte("Subject: x\n\nx\n"))
	c.Close()
	if reply.Get("status") != "error" || reply.Get("dsn") != "5.5.4" {
		t.Errorf("reply %v, want a 5.5.4 refusal", reply)
	}
}
