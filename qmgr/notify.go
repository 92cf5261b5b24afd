package qmgr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/dsn"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/message"
	"github.com/tern-mta/tern/pkg/queue"
)

// notify queues a delivery status notification about env. Mail from the
// null sender is reported to the postmaster as a double bounce, and a failed
// double bounce is only logged: notifications never loop. With
// notify_classes bounce or delay the postmaster also gets a copy of a
// sender's bounce or delay warning, headers only.
func (m *Manager) notify(env *envelope.Envelope, reports []dsn.RecipientReport, kind dsn.Action, now time.Time) error {
	s := m.settings
	doubleBounce := s.doubleBounceSender + "@" + s.myOrigin
	to, from := env.Sender, ""
	switch {
	case strings.EqualFold(env.Sender, doubleBounce):
		m.log.Infof("%s: discarding undeliverable postmaster notification", env.ID)
		return nil
	case env.Sender == "":
		if kind != dsn.Failed {
			return nil
		}
		to, from = qualifyLocal(s.doubleBounceRecipient, s.myOrigin), doubleBounce
	}
	if err := m.queueNotices(env, reports, kind, to, from, now); err != nil {
		return err
	}
	copyTo := ""
	switch {
	case from != "": // already the postmaster's
	case kind == dsn.Failed && s.notifyBounce:
		copyTo = s.bounceNoticeRecipient
	case kind == dsn.Delayed && s.notifyDelay:
		copyTo = s.delayNoticeRecipient
	}
	if copyTo == "" {
		return nil
	}
	return m.queueNotice(env, reports, kind, qualifyLocal(copyTo, s.myOrigin), doubleBounce, true, now)
}

// queueNotices sends the sender's notification: one for all reports, or,
// for the failures of a VERP message (unless disable_verp_bounces), one
// per recipient, each to the VERP form of the sender, as Postfix's
// bounce(8) does, so that a mailing list manager learns who bounced from
// the address alone.
func (m *Manager) queueNotices(env *envelope.Envelope, reports []dsn.RecipientReport, kind dsn.Action, to, from string, now time.Time) error {
	if env.VERP == "" || from != "" || kind != dsn.Failed || !m.settings.verpBounces {
		return m.queueNotice(env, reports, kind, to, from, false, now)
	}
	for _, r := range reports {
		rcpt := r.FinalRecipient
		if _, orig, ok := strings.Cut(r.OriginalRecipient, ";"); ok && orig != "" {
			rcpt = orig
		}
		verpTo := envelope.VERPSender(to, rcpt, env.VERP)
		if err := m.queueNotice(env, []dsn.RecipientReport{r}, kind, verpTo, from, false, now); err != nil {
			return err
		}
	}
	return nil
}

// queueNotice writes one notification about env to to, from from (""
// for the null sender), and queues it; postmasterCopy makes it the
// postmaster's headers-only copy.
func (m *Manager) queueNotice(env *envelope.Envelope, reports []dsn.RecipientReport, kind dsn.Action, to, from string, postmasterCopy bool, now time.Time) error {
	s := m.settings
	content, _, err := m.q.Content(env.ID)
	if err != nil {
		return fmt.Errorf("read %s: %w", env.ID, err)
	}
	defer content.Close()
	draft, err := m.q.NewDraft()
	if err != nil {
		return err
	}
	nenv := &envelope.Envelope{
		ID:         m.q.NewID(),
		Sender:     from,
		Recipients: []envelope.Recipient{{Address: to, Original: to}},
		Arrival:    now,
		Protocol:   "local",
	}
	rep := dsn.Report{
		ReportingMTA: s.myHostname,
		QueueID:      env.ID,
		// The notification's own queue id, as Postfix's cleanup makes
		// it: the sender's notice and the postmaster's copy of one
		// failure had one Message-Id.
		MessageID:  message.MessageID(now, nenv.ID, s.myHostname),
		Arrival:    env.Arrival,
		Now:        now,
		Sender:     env.Sender,
		To:         to,
		From:       "MAILER-DAEMON@" + s.myHostname,
		Postmaster: "postmaster",
		EnvID:      env.EnvID,
		Ret:        env.Ret,
		OrigSize:   env.Size,
		SizeLimit:  s.bounceSizeLimit,
		Recipients: reports,
		Kind:       kind,
		MailName:   s.mailName,
		Copy:       postmasterCopy,
		Template:   s.templates[kind],
		SMTPUTF8:   env.SMTPUTF8,
		EightBit:   env.EightBit,
	}
	// A report on SMTPUTF8 mail, or naming a UTF-8 address, asks for
	// SMTPUTF8 itself, as Postfix's bounce(8) does; with the bounce
	// class of smtputf8_autodetect_classes, so does one whose header
	// has UTF-8 (a template's From).
	nenv.UTF8Header = rep.UTF8Header()
	nenv.SMTPUTF8 = rep.Global() || nenv.UTF8Header && s.autodetects("bounce")
	if postmasterCopy {
		rep.Ret = "HDRS"
	}
	state := queue.Incoming
	if s.filterBounces {
		var send bool
		if state, send, err = m.inspectNotice(nenv, draft, rep, content); err != nil || !send {
			draft.Abort()
			return err
		}
	} else {
		// The 8-bit flag makes the smtp client send BODY=8BITMIME or
		// downgrade, as for any other message; it was left unset, so an
		// 8-bit original went back to the sender's server unannounced.
		ew := &message.EightBitWriter{W: draft}
		if err := dsn.Write(ew, rep, content); err != nil {
			draft.Abort()
			return fmt.Errorf("write notification: %w", err)
		}
		nenv.EightBit = ew.EightBit
	}
	if err := m.q.Commit(context.Background(), nenv, draft, state); err != nil {
		return err
	}
	what := map[dsn.Action]string{dsn.Failed: "sender non-delivery notification", dsn.Delayed: "sender delay notification",
		dsn.Delivered: "sender delivery status notification", dsn.Trace: "sender delivery status notification"}[kind]
	switch {
	case postmasterCopy && kind == dsn.Delayed:
		what = "postmaster delay notification"
	case from != "":
		what = "postmaster non-delivery notification"
	}
	// As Postfix's cleanup, then bounce, log them.
	m.log.Infof("%s: message-id=%s", nenv.ID, rep.MessageID)
	m.log.Infof("%s: %s: %s", env.ID, what, nenv.ID)
	if state == queue.Hold {
		m.log.Infof("%s: from=<%s>, size=%d, nrcpt=1 (queue hold)", nenv.ID, nenv.Sender, nenv.Size)
		return nil
	}
	m.log.Infof("%s: from=<%s>, size=%d, nrcpt=1 (queue active)", nenv.ID, nenv.Sender, nenv.Size)
	m.sched.submit(nenv)
	return nil
}

// inspectNotice writes a notification to draft through non_smtpd_milters
// and the header and body checks, as internal_mail_filter_classes =
// bounce asks (so that, say, a DKIM milter signs bounces). send is false
// when the inspection dropped it: a milter or check that rejects or
// discards a notification stops it for good (logged), or it would be
// written again at every retry. state is Hold when a milter or check
// holds it.
func (m *Manager) inspectNotice(nenv *envelope.Envelope, draft io.Writer, rep dsn.Report, content io.Reader) (state queue.State, send bool, err error) {
	var buf bytes.Buffer
	if err := dsn.Write(&buf, rep, content); err != nil {
		return queue.Incoming, false, fmt.Errorf("write notification: %w", err)
	}
	var body io.Reader = &buf
	hold := false
	if len(m.localMilters) > 0 {
		f, err := m.filterLocal(nenv, &limitReader{r: body, left: math.MaxInt64})
		var rj *rejection
		switch {
		case errors.As(err, &rj):
			m.log.Warnf("%s: notification rejected by non_smtpd_milters: %s; not sent", nenv.ID, rj.text)
			return queue.Incoming, false, nil
		case err != nil:
			return queue.Incoming, false, err
		}
		defer f.close()
		if f.discard {
			return queue.Incoming, false, nil
		}
		body, hold = f.content, f.hold
	}
	s := &submission{env: nenv, dsn: true}
	checks := inspect(m.checks, nenv, m.log)
	res, err := m.cleanupContent(s, draft, body, checks)
	if err != nil {
		return queue.Incoming, false, fmt.Errorf("write notification: %w", err)
	}
	if checks != nil {
		if checks.reject != nil || checks.discard {
			m.log.Warnf("%s: notification stopped by header or body checks; not sent", nenv.ID)
			return queue.Incoming, false, nil
		}
		if err := m.applyCheckRouting(nenv, s, checks.filter, checks.redirect); err != nil {
			return queue.Incoming, false, err
		}
		hold = hold || checks.hold
	}
	nenv.EightBit = res.EightBit
	// The header as the milters and checks left it.
	nenv.UTF8Header = res.UTF8Header
	nenv.SMTPUTF8 = nenv.SMTPUTF8 || res.UTF8Header && m.settings.autodetects("bounce")
	if hold {
		return queue.Hold, true, nil
	}
	return queue.Incoming, true, nil
}

func qualifyLocal(addr, origin string) string {
	if strings.Contains(addr, "@") {
		return addr
	}
	return addr + "@" + origin
}
