package restrict

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/tern-mta/tern/pkg/reply"
)

// status is the outcome of one restriction or list.
type status int

const (
	dunno     status = iota // no decision: go on
	permitted               // OK: this list passes
	rejected                // reject or defer: the check ends (eval.final holds the reply)
)

// maxRecursion bounds nested classes and access table results, as
// Postfix does (it then reports a server configuration error).
const maxRecursion = 100

// Reply texts that identify the stage in "<name>: <class> rejected: ...".
const (
	classClient     = "Client host"
	classRevClient  = "Unverified Client host"
	classHelo       = "Helo command"
	classSender     = "Sender address"
	classRecipient  = "Recipient address"
	classData       = "Data command"
	classEOD        = "End-of-data"
	classEtrn       = "Etrn command"
	classSASLUser   = "SASL login name"
	classClientCert = "Client certificate"
	textServerError = "Server configuration error"
)

// rej describes a reject or defer reply before Postfix's final fixes.
type rej struct {
	code   int
	dsn    string
	text   string // full reply text after the enhanced code
	reason string // short reason for Result.Log
	hard   bool   // configuration or lookup error: warn_if_reject cannot soften it
	word   string // deciding restriction; "" means the current one
}

// pending is a deferred decision (defer_if_permit / defer_if_reject).
type pending struct{ r rej }

// listCtx is the context a list is evaluated in.
type listCtx struct {
	name, class string // reply name and class: "<name>: <class> rejected: ..."
	def         kind   // what a bare type:name means; -1 when not allowed
}

// eval is the state of one Check call.
type eval struct {
	c       *Checker
	ctx     context.Context
	f       Facts
	stage   Stage
	hasHelo bool
	hasFrom bool
	hasRcpt bool
	namaddr string

	recursion, warnLevel      int
	deferPermit, deferReject  *pending
	rcptChecked, fromChecked  bool
	cur                       string // restriction being evaluated
	final                     Result
	permitWord, permitLogText string
	prepend                   []string // PREPEND header lines
	hold, discard             string   // reasons of HOLD and DISCARD actions
	filter, filterLog         string   // the last FILTER action
	redirect, redirectLog     string   // the last REDIRECT action
	cache                     map[string]resolved
}

func (c *Checker) newEval(ctx context.Context, stage Stage, f Facts) *eval {
	if ctx == nil {
		ctx = context.Background()
	}
	name := f.ClientName
	if name == "" {
		name = "unknown"
	}
	e := &eval{c: c, ctx: ctx, f: f, stage: stage, cache: map[string]resolved{},
		namaddr: name + "[" + f.ClientAddr.Unmap().String() + "]"}
	e.hasHelo = stage != Connect && f.Helo != ""
	e.hasFrom = stage >= Mail
	switch stage {
	case Rcpt:
		e.hasRcpt = true
	case Data, EndOfData:
		e.hasRcpt = f.RecipientCount == 1 && f.Recipient != ""
	}
	return e
}

func (e *eval) logf(format string, args ...any) {
	if e.c.deps.Logf != nil {
		e.c.deps.Logf(format, args...)
	}
}

// result returns what Check reports.
func (e *eval) result() Result {
	if e.final.Reply.Code != 0 {
		return e.final
	}
	r := Result{Prepend: e.prepend, Hold: e.hold, Discard: e.discard, Filter: e.filter, FilterLog: e.filterLog,
		Redirect: e.redirect, RedirectLog: e.redirectLog}
	if e.permitWord != "" {
		r.Permit, r.Restriction, r.Log = true, e.permitWord, e.permitLogText
	}
	return r
}

// addPrepend remembers a PREPEND header line once: with smtpd_delay_reject
// the client, HELO and sender lists run again for every recipient.
func (e *eval) addPrepend(line string) {
	if e.warnLevel > 0 || slices.Contains(e.prepend, line) {
		return
	}
	e.prepend = append(e.prepend, line)
}

// isHeaderLine reports whether s is "Name: value" with a field name of
// printable ASCII other than ":" (RFC 5322 section 2.2) and no line break.
func isHeaderLine(s string) bool {
	name, _, ok := strings.Cut(s, ":")
	if !ok || name == "" || strings.ContainsAny(s, "\r\n") {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' {
			return false
		}
	}
	return true
}

// resetStage starts the evaluation of one stage's lists.
func (e *eval) resetStage() {
	e.recursion, e.warnLevel, e.deferReject = 0, 0, nil
}

// reject applies Postfix's reply checks, warn_if_reject, defer_if_reject
// and soft_bounce, and records the final reply.
func (e *eval) reject(r rej) status {
	warn := e.warnLevel > 0 && !r.hard
	if r.code < 400 || r.code > 599 || !validDSN(r.dsn) {
		e.logf("warning: SMTP reply code or DSN configuration error: %d %s %s", r.code, r.dsn, r.text)
		r.code, r.dsn, r.text, r.reason = 450, "4.7.1", "Service unavailable", "Service unavailable"
	}
	if !warn && e.deferReject != nil && r.code/100 == 5 {
		p := e.deferReject
		e.deferReject, e.warnLevel = nil, 0
		return e.reject(p.r)
	}
	if e.c.set.softBounce && r.code/100 == 5 {
		r.code -= 100
	}
	r.dsn = fmt.Sprintf("%d%s", r.code/100, r.dsn[1:])
	text := r.text
	if max := 510 - len(r.dsn) - 5; len(text) > max {
		text = text[:max]
	}
	rep := reply.Reply{Code: r.code, Enhanced: r.dsn, Text: text}
	if warn {
		e.logf("reject_warning: %s", rep.String())
		return dunno
	}
	word := r.word
	if word == "" {
		word = e.cur
	}
	e.final = Result{Reply: rep, Log: r.reason, Restriction: word}
	return rejected
}

// classReject is the usual "<name>: <class> rejected: <reason>" reply.
func classReject(code int, dsn string, lc listCtx, reason string) rej {
	return rej{code: code, dsn: dsn, text: fmt.Sprintf("<%s>: %s rejected: %s", lc.name, lc.class, reason), reason: reason}
}

// deferIfPermit remembers a temporary problem that turns a later permit
// into a deferral; with action defer, or under warn_if_reject, it replies
// (or warns) at once.
func (e *eval) deferIfPermit(act tempfailAction, r rej) status {
	if e.warnLevel == 0 && act == tempfailDeferIfPermit {
		if e.deferPermit == nil {
			r.word = e.cur
			e.deferPermit = &pending{r: r}
		}
		return dunno
	}
	return e.reject(r)
}

// deferIfReject remembers a reply that replaces a later 5xx rejection.
func (e *eval) deferIfReject(r rej) status {
	if e.warnLevel == 0 {
		if e.deferReject == nil {
			r.word = e.cur
			e.deferReject = &pending{r: r}
		}
		return dunno
	}
	e.reject(r)
	return dunno
}

// firePending turns a remembered defer_if_permit into the final reply.
func (e *eval) firePending() status {
	p := e.deferPermit
	e.deferPermit = nil
	e.warnLevel = 0
	return e.reject(p.r)
}

// dictRetry is Postfix's reply to a lookup that failed temporarily.
func (e *eval) dictRetry(name string, err error) status {
	e.logf("warning: %s: lookup error: %v", name, err)
	return e.reject(rej{code: 451, dsn: "4.3.0", text: fmt.Sprintf("<%s>: Temporary lookup failure", name),
		reason: "Temporary lookup failure", hard: true})
}

// serverError is Postfix's reply to a configuration problem.
func (e *eval) serverError(format string, args ...any) status {
	e.logf("warning: "+format, args...)
	return e.reject(rej{code: 451, dsn: "4.3.5", text: textServerError, reason: textServerError, hard: true})
}

// permit records an explicit permit for smtpd_log_access_permit_actions.
func (e *eval) permit(word, class, name string) status {
	set := e.c.set
	if e.permitWord == "" && e.deferPermit == nil && (set.permitLogAll || set.permitLog[strings.ToLower(word)]) {
		e.permitWord = word
		e.permitLogText = fmt.Sprintf("action=%s for %s=%s", word, class, name)
	}
	return permitted
}

// runList evaluates one restriction list (or class) left to right.
func (e *eval) runList(l *list, lc listCtx) status {
	saved := e.recursion
	e.recursion++
	defer func() {
		e.recursion = saved
		if e.warnLevel >= e.recursion {
			e.warnLevel = 0
		}
	}()
	if e.recursion > maxRecursion {
		return e.serverError("restriction list %s: unreasonable recursion", l.param)
	}
	st := dunno
	for _, s := range l.steps {
		if s.kind == kWarnIfReject {
			if e.warnLevel == 0 {
				e.warnLevel = e.recursion
			}
			continue
		}
		prev := e.cur
		e.cur = s.word
		st = e.step(s, lc)
		e.cur = prev
		if e.warnLevel >= e.recursion {
			e.warnLevel = 0
		}
		if st != dunno {
			break
		}
		if e.deferPermit != nil && e.deferReject != nil {
			break
		}
	}
	return st
}

// Stage drivers, after Postfix's smtpd_check_client, _helo, _mail,
// _rcpt, _data and _eod.

func (e *eval) checkClient() status {
	e.deferPermit = nil
	e.resetStage()
	return e.runList(e.c.lists[listClient], listCtx{name: e.namaddr, class: classClient, def: kCheckClient})
}

func (e *eval) checkHelo() status {
	if !e.hasHelo {
		return dunno
	}
	e.resetStage()
	return e.runList(e.c.lists[listHelo], listCtx{name: e.f.Helo, class: classHelo, def: kCheckHelo})
}

func (e *eval) checkMail() status {
	e.fromChecked = false
	e.resetStage()
	st := e.runList(e.c.lists[listSender], listCtx{name: e.f.Sender, class: classSender, def: kCheckSender})
	if e.c.set.rejectUnlistedSender && e.c.deps.KnownRecipient != nil && e.c.deps.LocalDomain != nil &&
		st != rejected && !e.fromChecked && e.f.Sender != "" {
		e.cur = "smtpd_reject_unlisted_sender"
		st = e.checkAddrMaps(e.f.Sender, classSender)
	}
	return st
}

func (e *eval) checkRcpt() {
	if strings.EqualFold(e.f.Recipient, "postmaster") {
		return // RFC 5321 section 4.5.1: always accept postmaster
	}
	e.rcptChecked = false
	if e.c.set.delayReject {
		if e.checkClient() == rejected || e.checkHelo() == rejected || e.checkMail() == rejected {
			return
		}
	}
	e.resetStage()
	order := []int{listRelay, listRecipient}
	if !e.c.set.relayFirst {
		order = []int{listRecipient, listRelay}
	}
	st := dunno
	lc := listCtx{name: e.f.Recipient, class: classRecipient, def: kCheckRcpt}
	for _, idx := range order {
		if st = e.runList(e.c.lists[idx], lc); st == rejected {
			return
		}
	}
	if e.deferPermit != nil {
		if e.firePending() == rejected {
			e.permitWord = ""
			return
		}
	}
	if e.c.set.rejectUnlistedRcpt && e.c.deps.KnownRecipient != nil && e.c.deps.LocalDomain != nil && !e.rcptChecked {
		e.cur = "smtpd_reject_unlisted_recipient"
		if e.checkAddrMaps(e.f.Recipient, classRecipient) == rejected {
			e.permitWord = ""
		}
	}
}

// checkEtrn runs smtpd_etrn_restrictions for the ETRN domain.
func (e *eval) checkEtrn() {
	e.deferPermit = nil
	e.resetStage()
	lc := listCtx{name: e.f.EtrnDomain, class: classEtrn, def: kCheckEtrn}
	if e.runList(e.c.lists[listEtrn], lc) != rejected && e.deferPermit != nil {
		e.firePending()
		e.permitWord = ""
	}
}

func (e *eval) checkData() {
	e.deferPermit = nil
	e.resetStage()
	lc := listCtx{name: "DATA", class: classData, def: -1}
	idx := listData
	if e.stage == EndOfData {
		lc = listCtx{name: "END-OF-MESSAGE", class: classEOD, def: -1}
		idx = listEOD
	}
	if e.runList(e.c.lists[idx], lc) != rejected && e.deferPermit != nil {
		e.firePending()
		e.permitWord = ""
	}
}
