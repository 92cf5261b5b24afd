package qmgr

import (
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/dsn"
	"github.com/tern-mta/tern/pkg/envelope"
)

// The reports that sendmail asks for, as Postfix's trace service sends
// them: with -bv (envelope.TraceVerify) nothing is delivered and each
// recipient's agent says what it would do; with -v (TraceRecord) the
// mail is delivered and the outcome of the first attempt is reported.
// Either way one "Mail Delivery Status Report" goes to the sender after
// the first delivery pass, listing every destination a recipient reached
// (each alias member, file, command or forwarded address).

// traceResult notes, for the report, the outcome res of recipient rc of
// a traced message. With -bv every outcome is final: a deferral is
// reported as undeliverable rather than tried again, and no bounce is
// sent.
func traceResult(msg *activeMsg, rc *envelope.Recipient, res agent.Result) {
	trace := msg.env.Trace
	if trace == "" {
		return
	}
	if trace == envelope.TraceVerify {
		if res.Status == agent.Defer {
			rc.Status = envelope.Failed
		}
		rc.Notified = true
	}
	entries := res.Trace
	if len(entries) == 0 {
		entries = []agent.TraceEntry{{Address: rc.Address, Status: res.Status, DSN: res.DSN, Text: res.Text}}
	}
	for _, e := range entries {
		rr := dsn.RecipientReport{
			FinalRecipient: e.Address,
			Action:         traceAction(trace, e.Status, res.Relayed),
			Status:         e.DSN,
			Diagnostic:     e.Text,
		}
		if res.Relay != "" && res.Relay != "none" {
			rr.Diagnostic = "delivery via " + res.Relay + ": " + e.Text
		}
		if rc.Original != "" {
			rr.OriginalRecipient = "rfc822;" + rc.Original
		}
		msg.traces = append(msg.traces, rr)
	}
}

// traceAction is the report's action for an outcome: what would happen
// (-bv) or what did (-v).
func traceAction(trace string, st agent.Status, relayed bool) dsn.Action {
	switch {
	case trace == envelope.TraceVerify && st == agent.OK:
		return dsn.Deliverable
	case trace == envelope.TraceVerify:
		return dsn.Undeliverable
	case st == agent.Bounce:
		return dsn.Failed
	case st == agent.Defer:
		return dsn.Delayed
	case relayed:
		return dsn.Relayed
	}
	return dsn.Delivered
}

// sendTrace queues the report of a traced message's first pass to its
// sender and clears the request, so that later passes send none. A
// report that cannot be queued is logged and not tried again, as
// Postfix's: the mail itself is unaffected.
func (m *Manager) sendTrace(msg *activeMsg, now time.Time) {
	env := msg.env
	if env.Trace == "" {
		return
	}
	env.Trace = ""
	reports := msg.traces
	msg.traces = nil
	if len(reports) == 0 {
		return
	}
	if env.Sender == "" {
		m.log.Infof("%s: delivery status report not sent: null sender", env.ID)
		return
	}
	if err := m.queueNotice(env, reports, dsn.Trace, env.Sender, "", false, now); err != nil {
		m.log.Errorf("%s: cannot queue delivery status report: %v", env.ID, err)
	}
}
