package qmgr

import (
	"context"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/dsn"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/postsuper"
	"github.com/tern-mta/tern/pkg/queue"
)

// record applies one recipient's result to the message. Results that no
// agent produced (routing decisions, an unreachable agent) are logged here;
// agents log their own.
func (m *Manager) record(msg *activeMsg, i int, res agent.Result, logged bool) {
	rc := &msg.env.Recipients[i]
	rc.DSN, rc.Reason, rc.Relay = res.DSN, res.Text, res.Relay
	rc.Diag, rc.RemoteMTA = res.Diagnostic, res.RemoteMTA
	switch res.Status {
	case agent.OK:
		rc.Status = envelope.Delivered
		rc.Relayed = res.Relayed
		// The next hop took the DSN request: its notices replace ours.
		rc.Notified = rc.Notified || res.DSNPassed
	case agent.Bounce:
		rc.Status = envelope.Failed
	default:
		rc.Status = envelope.Pending
	}
	if !logged {
		agent.LogResult(m.log, msg.env, *rc, res, msg.started)
	}
	traceResult(msg, rc, res)
}

// settle decides a message's fate after a delivery pass: expire recipients
// past their lifetime, return failures to the sender, then delete the
// message when nothing is pending or else defer it with back-off; op, an
// administrator's request made during the pass, puts it on hold instead
// (postsuper.Hold) or makes it due at once (postsuper.Requeue). forget is
// called once the queue no longer offers the message for delivery: at
// once for a deferral, after the commit for a removal, so that no queue
// scan finds a delivered message before its removal is committed.
func (m *Manager) settle(msg *activeMsg, forget func(), op postsuper.Op) {
	env := msg.env
	now := time.Now()
	pending := env.Pending()
	if len(pending) > 0 && now.Sub(env.Arrival) >= m.lifetime(env) {
		for _, i := range pending {
			rc := &env.Recipients[i]
			rc.Status = envelope.Failed
			if rc.DSN == "" || rc.DSN[0] != '5' {
				rc.DSN = "5" + strings.TrimLeft(rc.DSN, "0123456789")
				if rc.DSN == "5" {
					rc.DSN = "5.4.7"
				}
			}
			if rc.Reason == "" {
				rc.Reason = "delivery time expired"
			}
		}
		m.log.Infof("%s: from=<%s>, status=expired, returned to sender", env.ID, env.Sender)
	}
	m.sendTrace(msg, now)
	bounced := m.returnFailures(env, now)
	m.returnSuccesses(env, now)
	if len(env.Pending()) == 0 && bounced {
		// The removal need not be durable before the next message: it
		// shares a later commit (a lost one means a second delivery).
		id := env.ID
		err := m.q.DeleteLater(id, func(err error) {
			defer forget()
			if err != nil {
				m.log.Errorf("%s: remove: %v", id, err)
				return
			}
			m.log.Infof("%s: removed", id)
		})
		if err != nil {
			m.log.Errorf("%s: remove: %v", id, err)
			forget()
		}
		return
	}
	defer forget()
	m.warnDelay(env, now)
	env.Attempts++
	state := queue.Deferred
	switch op {
	case postsuper.Hold:
		state = queue.Hold
	case postsuper.Requeue:
		env.NextAttempt = now
	default:
		env.NextAttempt = now.Add(m.backoff(env, now))
	}
	if err := m.q.Update(context.Background(), env, state); err != nil {
		m.log.Errorf("%s: update queue: %v", env.ID, err)
		return
	}
	m.logAdmin(env.ID, op)
	if op == postsuper.Requeue {
		kick(m.sched.wake) // it is due now
	}
}

// lifetime is maximal_queue_lifetime, or bounce_queue_lifetime for mail
// from the null sender.
func (m *Manager) lifetime(env *envelope.Envelope) time.Duration {
	if env.Sender == "" {
		return m.settings.bounceLifetime
	}
	return m.settings.maxLifetime
}

// backoff follows Postfix: the wait grows with the message's age, between
// minimal_backoff_time and maximal_backoff_time.
func (m *Manager) backoff(env *envelope.Envelope, now time.Time) time.Duration {
	d := now.Sub(env.Arrival)
	if d < m.settings.minBackoff {
		d = m.settings.minBackoff
	}
	if d > m.settings.maxBackoff {
		d = m.settings.maxBackoff
	}
	return d
}

// returnFailures sends one non-delivery notification for the failed
// recipients not yet reported and marks them reported. It returns false
// when the notification could not be queued, so the message is kept and
// the notification tried again.
func (m *Manager) returnFailures(env *envelope.Envelope, now time.Time) bool {
	var idx []int
	for i, rc := range env.Recipients {
		if rc.Status == envelope.Failed && !rc.Notified {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return true
	}
	var reports []dsn.RecipientReport
	for _, i := range idx {
		rc := env.Recipients[i]
		if wantsNotice(rc.Notify, envelope.NotifyFailure) {
			reports = append(reports, recipientReport(rc, dsn.Failed, now))
		}
	}
	if len(reports) > 0 {
		if err := m.notify(env, reports, dsn.Failed, now); err != nil {
			m.log.Errorf("%s: cannot queue non-delivery notification: %v", env.ID, err)
			return false
		}
	}
	for _, i := range idx {
		env.Recipients[i].Notified = true
	}
	return true
}

// returnSuccesses sends one success notification (RFC 3461 NOTIFY=SUCCESS)
// for the delivered recipients that asked for it, or, with
// confirm_delay_cleared, were named in the sender's delay warning, and
// were not yet reported: "delivered" for final delivery here, "relayed" for a hand-off
// to a server that did not announce DSN (one that did took over the
// request, see agent.Result.DSNPassed, and is not reported). A notification
// that cannot be queued is logged and not tried again: the mail itself
// was delivered.
func (m *Manager) returnSuccesses(env *envelope.Envelope, now time.Time) {
	var reports []dsn.RecipientReport
	for i := range env.Recipients {
		rc := &env.Recipients[i]
		wanted := wantsNotice(rc.Notify, envelope.NotifySuccess) || m.settings.confirmDelayCleared && rc.DelayWarned
		if rc.Status != envelope.Delivered || rc.Notified || !wanted {
			continue
		}
		action := dsn.Delivered
		if rc.Relayed {
			action = dsn.Relayed
		}
		reports = append(reports, recipientReport(*rc, action, now))
		rc.Notified = true
	}
	if len(reports) == 0 {
		return
	}
	if err := m.notify(env, reports, dsn.Delivered, now); err != nil {
		m.log.Errorf("%s: cannot queue delivery status notification: %v", env.ID, err)
	}
}

// warnDelay sends the one delay warning when delay_warning_time has passed.
func (m *Manager) warnDelay(env *envelope.Envelope, now time.Time) {
	if m.settings.delayWarning <= 0 || env.WarnedDelay || now.Sub(env.Arrival) < m.settings.delayWarning {
		return
	}
	var reports []dsn.RecipientReport
	for _, i := range env.Pending() {
		rc := &env.Recipients[i]
		if wantsNotice(rc.Notify, envelope.NotifyDelay) {
			rep := recipientReport(*rc, dsn.Delayed, now)
			rep.WillRetryUntil = env.Arrival.Add(m.lifetime(env))
			reports = append(reports, rep)
			rc.DelayWarned = true
		}
	}
	env.WarnedDelay = true
	if len(reports) == 0 {
		return
	}
	if err := m.notify(env, reports, dsn.Delayed, now); err != nil {
		m.log.Errorf("%s: cannot queue delay notification: %v", env.ID, err)
	}
}

// wantsNotice applies RFC 3461 NOTIFY: without NOTIFY, failures and delays
// are reported.
func wantsNotice(notify, kind string) bool {
	if notify == "" {
		return kind != envelope.NotifySuccess
	}
	for _, n := range strings.Split(strings.ToUpper(notify), ",") {
		if strings.TrimSpace(n) == kind {
			return true
		}
	}
	return false
}

func recipientReport(rc envelope.Recipient, action dsn.Action, now time.Time) dsn.RecipientReport {
	rep := dsn.RecipientReport{
		FinalRecipient: rc.Address,
		Action:         action,
		Status:         rc.DSN,
		LastAttempt:    now,
		DiagnosticType: "x-unix",
		Diagnostic:     rc.Reason,
	}
	if rc.ORcpt != "" {
		rep.OriginalRecipient = rc.ORcpt
	} else if rc.Original != "" && !strings.EqualFold(rc.Original, rc.Address) {
		rep.OriginalRecipient = "rfc822;" + rc.Original
	}
	if rc.Diag != "" {
		// The remote server's own words, as RFC 3464 section 2.3.6 wants.
		rep.DiagnosticType, rep.Diagnostic, rep.RemoteMTA = "smtp", rc.Diag, rc.RemoteMTA
	} else if strings.HasPrefix(rc.Reason, "host ") || strings.HasPrefix(rc.Relay, "smtp") {
		rep.DiagnosticType = "smtp"
	}
	if rep.Status == "" {
		rep.Status = "5.0.0"
	}
	return rep
}
