package qmgr

import (
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// TestTraceVerifyReport: a sendmail -bv submission reaches the agent as a
// verification, a deferral is final, no bounce is sent, and one report
// with each destination goes to the sender.
func TestTraceVerifyReport(t *testing.T) {
	fa := &fakeAgent{answer: func(_ int, r agentReq) []agent.Result {
		if r.env.Trace == "" {
			return allOK(r) // the report
		}
		out := make([]agent.Result, len(r.rcpts))
		for i, rc := range r.rcpts {
			switch rc.Address {
			case "team@example.com":
				out[i] = agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "x", Relay: "local", Trace: []agent.TraceEntry{
					{Address: "team@example.com", Status: agent.OK, DSN: "2.0.0", Text: "delivers to command: /bin/cat"},
					{Address: "joe@example.com", Status: agent.OK, DSN: "2.0.0", Text: "delivers to mailbox"}}}
			case "slow@example.com":
				out[i] = agent.Result{Status: agent.Defer, DSN: "4.3.0", Text: "alias database unavailable", Relay: "local"}
			default:
				out[i] = agent.Result{Status: agent.Bounce, DSN: "5.1.1", Text: `unknown user: "nobody"`, Relay: "local"}
			}
		}
		return out
	}}
	h := newMTA(t, "", fa)
	h.submit(rcpts("team@example.com", "slow@example.com", "nobody@example.com").Add("sender", "boss").Add("trace", envelope.TraceVerify),
		"Subject: probe\n\n")
	reqs := h.waitRequests(4) // one per recipient (local_destination_recipient_limit = 1), then the report
	for _, r := range reqs[:3] {
		if !r.env.Verifying() || r.env.Trace != envelope.TraceVerify {
			t.Errorf("agent request not a verification: %+v", r.env)
		}
	}
	report := reqs[3]
	if report.rcpts[0].Address != "boss@example.com" || report.env.Trace != "" {
		t.Fatalf("last request is not the report to the sender: %+v %+v", report.rcpts, report.env)
	}
	for _, want := range []string{"Subject: Mail Delivery Status Report",
		"Action: deliverable", "Diagnostic-Code: x-unix; delivery via local: delivers to command: /bin/cat",
		"Final-Recipient: rfc822; joe@example.com",
		"Final-Recipient: rfc822; slow@example.com\nAction: undeliverable\nStatus: 4.3.0",
		"Final-Recipient: rfc822; nobody@example.com\nAction: undeliverable\nStatus: 5.1.1"} {
		if !strings.Contains(report.body, want) {
			t.Errorf("report lacks %q:\n%s", want, report.body)
		}
	}
	// A bounce or a retry would be queued before the message's removal,
	// so an empty queue has seen them delivered.
	h.waitEmpty()
	if n := len(fa.requests()); n != 4 {
		t.Errorf("%d agent requests, want the 3 verifications and the report (no bounce, no retry)", n)
	}
	if log := h.log.String(); !strings.Contains(log, "status=undeliverable") || strings.Contains(log, "non-delivery notification") {
		t.Errorf("log:\n%s", log)
	}
}

// TestTraceOnlyFromSendmail: a report request that comes other than from
// sendmail, or with an unknown value, is dropped; a probe flag never
// comes with a submission.
func TestTraceOnlyFromSendmail(t *testing.T) {
	h := newMTA(t, "", nil)
	h.submit(rcpts("joe@example.com").Add("trace", "everything").Add("probe", "1"), "Subject: s\n\nx\n")
	r := h.waitRequests(1)[0]
	if r.env.Trace != "" || r.env.Verifying() {
		t.Errorf("env %+v asks for a report or a probe", r.env)
	}
	h.waitLog(`submission with unknown report request "everything": ignored`)
	h.waitEmpty()
}

// TestTransportRateDelayPacesDeliveries: with
// local_transport_rate_delay each delivery over the transport starts
// the delay after the previous one ended.
func TestTransportRateDelayPacesDeliveries(t *testing.T) {
	h := newMTA(t, "local_transport_rate_delay = 200ms\n", nil)
	for _, to := range []string{"a@example.com", "b@example.com", "c@example.com"} {
		h.submit(rcpts(to), "Subject: s\n\nx\n")
	}
	reqs := h.waitRequests(3)
	for i := 1; i < len(reqs); i++ {
		if gap := reqs[i].at.Sub(reqs[i-1].at); gap < 190*time.Millisecond {
			t.Errorf("delivery %d started %v after the one before, want at least 200ms", i+1, gap)
		}
	}
	h.waitEmpty()
}
