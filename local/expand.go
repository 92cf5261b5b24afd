package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// Expansion classes, as allow_mail_to_commands and allow_mail_to_files
// name them.
const (
	classNone    = ""
	classAlias   = "alias"
	classForward = "forward"
	classInclude = "include"
)

// state is the delivery state of one level of recursion.
type state struct {
	addr     string // the address being delivered at this level
	sender   string // envelope sender (owner-alias may replace it)
	owner    string // alias with an owner- companion, or the .forward user
	class    string // how addr was reached: "", alias, forward, include
	privs    *User  // privileges for commands and files at this level
	fromUser bool   // reached through a user's .forward
	level    int
}

// rcptRun gathers everything the expansion of one request recipient
// produced.
type rcptRun struct {
	rs   *requestState
	top  envelope.Recipient
	dups dupFilter // deliveries, aliases, .forward users and includes already done
	subs []agent.Result
	fwd  []fwdGroup
	// traces lists each outcome with the address it was for, when the
	// request asks for a trace report (sendmail -bv or -v).
	traces []agent.TraceEntry
}

// fwdGroup is one message to forward: one sender, several recipients.
type fwdGroup struct {
	sender string
	rcpts  []string
}

// add records the outcome of one destination that addr expanded to.
// Like Postfix's local, it logs each outcome (see logOutcome), after the
// delivery status filter.
func (r *rcptRun) add(addr string, res agent.Result) {
	res = r.filter(res)
	r.logOutcome(addr, res)
	r.record(addr, res)
}

// addQuiet records an outcome without logging it: a delivery the
// request already made for another recipient, which Postfix's duplicate
// filter passes over in silence.
func (r *rcptRun) addQuiet(addr string, res agent.Result) {
	r.record(addr, r.filter(res))
}

// filter applies local_delivery_status_filter to an outcome of local's
// own; one that another agent logged has been through that agent's.
func (r *rcptRun) filter(res agent.Result) agent.Result {
	if res.Logged {
		return res
	}
	return r.rs.req.StatusFilter.Apply(res)
}

// record keeps an outcome for the combined result and the trace report.
func (r *rcptRun) record(addr string, res agent.Result) {
	r.subs = append(r.subs, res)
	if r.rs.tracing {
		r.traces = append(r.traces, agent.TraceEntry{Address: addr, Status: res.Status, DSN: res.DSN, Text: res.Text})
	}
}

func (r *rcptRun) forward(sender, addr string) {
	key := "forward " + strings.ToLower(addr)
	if !r.dups.first(key) {
		return
	}
	for i := range r.fwd {
		if r.fwd[i].sender == sender {
			r.fwd[i].rcpts = append(r.fwd[i].rcpts, addr)
			return
		}
	}
	r.fwd = append(r.fwd, fwdGroup{sender: sender, rcpts: []string{addr}})
}

// logOutcome logs one outcome as Postfix's local does, a line for each
// mailbox, file, command, forwarded address or failure: "to=<addr>,
// orig_to=<the request recipient as given>, relay=local, ..." with the
// delays of the request, addr being the address whose delivery or
// expansion it was (the alias, for its files and commands); orig_to is
// left out when it is addr. One that another agent delivered and logged
// is not logged again.
func (r *rcptRun) logOutcome(addr string, res agent.Result) {
	if res.Logged {
		return
	}
	orig := r.top.Original
	if orig == "" {
		orig = r.top.Address
	}
	res.Relay = "local"
	r.rs.log.Infof("%s", agent.FormatResult(r.rs.req.Env, envelope.Recipient{Address: addr, Original: orig}, res, r.rs.start, time.Now()))
}

// combine folds the outcomes into one result: any deferral defers the
// recipient, else any bounce bounces it, else it was delivered. Each
// outcome has its line already, so the result is marked Logged: the
// recipient gets no line of its own, as in Postfix, unless nothing came
// of it at all.
func (r *rcptRun) combine() agent.Result {
	res := r.fold()
	res.Logged = len(r.subs) > 0
	return res
}

func (r *rcptRun) fold() agent.Result {
	if len(r.subs) == 0 {
		return agent.Bouncef("5.3.0", "no deliverable destination for %s", r.top.Address)
	}
	for _, s := range r.subs {
		if s.Status == agent.Defer {
			return s
		}
	}
	for _, s := range r.subs {
		if s.Status == agent.Bounce {
			return s
		}
	}
	if len(r.subs) == 1 {
		return r.subs[0]
	}
	var texts []string
	for i, s := range r.subs {
		if i == 5 {
			texts = append(texts, fmt.Sprintf("and %d more", len(r.subs)-i))
			break
		}
		texts = append(texts, s.Text)
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: strings.Join(texts, "; ")}
}

// recipient delivers to one address at some level of recursion, as
// Postfix's deliver_recipient and deliver_switch.
func (a *Agent) recipient(ctx context.Context, run *rcptRun, st state) {
	st.level++
	if st.level > maxNesting {
		a.cfg.Log.Warnf("%s: recipient nesting limit exceeded for %s", run.rs.req.Env.ID, st.addr)
		run.add(st.addr, agent.Bouncef("5.4.6", "recipient nesting limit exceeded"))
		return
	}
	if run.rs.loopInfo[strings.ToLower(st.addr)] {
		run.add(st.addr, agent.Bouncef("5.4.6", "mail forwarding loop for %s", st.addr))
		return
	}
	lp, domain := splitAddr(st.addr)
	if !a.isLocalDomain(domain) {
		run.forward(st.sender, st.addr)
		return
	}
	localPart := strings.ToLower(unquoteLocal(lp))
	user, ext, delim := a.splitExt(localPart)
	if strings.Contains(ext, "/") {
		a.cfg.Log.Warnf("%s: address with illegal extension: %s", run.rs.req.Env.ID, localPart)
		localPart, ext, delim = user, "", ""
	}
	if user == "" {
		run.add(st.addr, agent.Bouncef("5.1.3", "null username in %q", st.addr))
		return
	}
	if a.expandAlias(ctx, run, st, localPart, "", "") {
		return
	}
	if ext != "" && a.expandAlias(ctx, run, st, user, ext, delim) {
		return
	}
	if st.owner != "" && !strings.EqualFold(st.owner, user) || st.class == classInclude {
		run.forward(st.sender, a.qualify(st.addr))
		return
	}
	a.localUser(ctx, run, st, user, ext, delim, domain, localPart)
}

// localUser delivers to a system account: ~/.forward, else the mailbox.
// With mailbox_transport, a name without an account goes to that
// transport too, as in Postfix (Dovecot knows users the system does not).
func (a *Agent) localUser(ctx context.Context, run *rcptRun, st state, name, ext, delim, domain, localPart string) {
	if a.cfg.handlesUnknown() {
		if _, err := a.cfg.Users.Lookup(name); errors.Is(err, ErrNoUser) {
			a.unknownUser(ctx, run, st, recipientVars{user: &User{Name: name}, ext: ext, delim: delim, domain: domain, local: localPart})
			return
		}
	}
	u, ok := a.lookupUser(run, st, name)
	if !ok {
		return
	}
	if _, err := os.Stat(u.Home); err != nil && a.cfg.RequireHomeDirectory {
		run.add(st.addr, agent.Deferf("4.3.0", "cannot access home directory %s: %v", u.Home, errnoText(err)))
		return
	}
	rv := recipientVars{user: u, ext: ext, delim: delim, domain: domain, local: localPart}
	if a.dotForward(ctx, run, st, rv) {
		return
	}
	a.mailbox(ctx, run, st, u, rv)
}

// unknownUser hands mail for a name without an account on, in Postfix's
// order: mailbox_transport_maps, mailbox_transport,
// fallback_transport_maps, fallback_transport, luser_relay; with none of
// them it bounces.
func (a *Agent) unknownUser(ctx context.Context, run *rcptRun, st state, rv recipientVars) {
	name := rv.user.Name
	for _, pick := range []func(string) (string, error){a.mailboxTransport, a.fallbackTransport} {
		transport, err := pick(name)
		if err != nil {
			a.cfg.Log.Warnf("%s: %v", run.rs.req.Env.ID, err)
			run.add(st.addr, agent.Deferf("4.3.0", "table lookup failure"))
			return
		}
		if transport != "" {
			a.delegateMailbox(ctx, run, st, transport)
			return
		}
	}
	if a.cfg.LuserRelay != "" {
		a.luserRelay(ctx, run, st, rv)
		return
	}
	a.lookupUser(run, st, name) // records the bounce
}

// luserRelay sends mail for a name without an account to luser_relay,
// with $user, $extension, $recipient_delimiter, $local, $domain and
// $recipient expanded, as Postfix's local does; the result is delivered
// as any address (an alias or a remote address alike).
func (a *Agent) luserRelay(ctx context.Context, run *rcptRun, st state, rv recipientVars) {
	v := vars{"user": rv.user.Name, "extension": rv.ext, "recipient_delimiter": rv.delim,
		"local": rv.local, "domain": rv.domain, "recipient": st.addr, "home": "", "shell": ""}
	dest, _, ok := expandTemplate(a.cfg.LuserRelay, v)
	if !ok || strings.TrimSpace(dest) == "" {
		a.cfg.Log.Warnf("%s: luser_relay %q: bad expansion for %s", run.rs.req.Env.ID, a.cfg.LuserRelay, st.addr)
		run.add(st.addr, agent.Deferf("4.3.0", "luser_relay configuration error"))
		return
	}
	next := st
	next.addr = a.qualify(strings.TrimSpace(dest))
	a.recipient(ctx, run, next)
}

// lookupUser finds an account; on failure it records the outcome for
// st.addr.
func (a *Agent) lookupUser(run *rcptRun, st state, name string) (*User, bool) {
	u, err := a.cfg.Users.Lookup(name)
	switch {
	case errors.Is(err, ErrNoUser):
		run.add(st.addr, agent.Bouncef("5.1.1", "unknown user: %q", name))
		return nil, false
	case err != nil:
		a.cfg.Log.Warnf("error looking up passwd info for %s: %v", name, err)
		run.add(st.addr, agent.Deferf("4.0.0", "user lookup error"))
		return nil, false
	}
	return u, true
}

// recipientVars are the per-recipient attributes of a local user.
type recipientVars struct {
	user          *User
	ext, delim    string
	domain, local string
}

// expandAlias looks name up in alias_maps and delivers to its expansion;
// it reports whether name was an alias (or the lookup failed).
func (a *Agent) expandAlias(ctx context.Context, run *rcptRun, st state, name, unmatched, delim string) bool {
	if a.cfg.Aliases == nil || run.dups.has("alias "+name) {
		return false
	}
	value, found, err := a.cfg.Aliases.Lookup(name)
	if err != nil {
		a.cfg.Log.Warnf("%s: alias database lookup of %s: %v", run.rs.req.Env.ID, name, err)
		run.add(st.addr, agent.Deferf("4.3.0", "alias database unavailable"))
		return true
	}
	if !found {
		return false
	}
	run.dups.add("alias " + name)
	privs, err := a.defaultPrivs()
	if err != nil {
		run.add(st.addr, agent.Deferf("4.3.5", "mail system configuration error"))
		a.cfg.Log.Warnf("default_privs: %v", err)
		return true
	}
	st.class, st.privs, st.fromUser = classAlias, privs, false
	if sender, ok := a.ownerSender(name); ok {
		st.sender, st.owner = sender, name
	} else if a.cfg.ResetOwnerAlias {
		// A child alias without an owner of its own: its local members
		// are delivered at once rather than through a new queue file
		// (errors still go to the parent's owner).
		st.owner = ""
	}
	a.targets(ctx, run, st, ParseTargets(value), unmatched, delim)
	return true
}

// ownerSender implements owner_request_special: when alias name has an
// owner-name companion, mail expanded from name is sent with the
// owner-name@$myorigin (or, with expand_owner_alias, owner-name's own
// expansion) as the envelope sender.
func (a *Agent) ownerSender(name string) (string, bool) {
	if !a.cfg.OwnerRequestSpecial || strings.HasPrefix(name, "owner-") {
		return "", false
	}
	value, found, err := a.cfg.Aliases.Lookup("owner-" + name)
	if err != nil || !found {
		return "", false
	}
	if a.cfg.ExpandOwnerAlias {
		if ts := ParseTargets(value); len(ts) == 1 && ts[0].Kind == tAddress {
			return a.qualify(ts[0].Value), true
		}
	}
	return a.qualify("owner-" + name), true
}

// defaultPrivs returns the account that runs alias commands and files.
// Without a helper everything runs as the current user anyway.
func (a *Agent) defaultPrivs() (*User, error) {
	u, err := a.cfg.Users.Lookup(a.cfg.DefaultPrivs)
	if err == nil {
		if a.cfg.Helper != nil && (u.UID == 0 || u.GID == 0) {
			return nil, fmt.Errorf("privileged default_privs user %s", u.Name)
		}
		return u, nil
	}
	if a.cfg.Helper != nil {
		return nil, fmt.Errorf("look up %s: %w", a.cfg.DefaultPrivs, err)
	}
	return &User{Name: a.cfg.DefaultPrivs, Home: "/", Shell: "/bin/sh", UID: os.Getuid(), GID: os.Getgid()}, nil
}

// targets delivers to each item of an expansion.
func (a *Agent) targets(ctx context.Context, run *rcptRun, st state, ts []Target, unmatched, delim string) {
	for _, t := range ts {
		if ctx.Err() != nil {
			run.add(st.addr, agent.Deferf("4.3.0", "delivery interrupted: %v", ctx.Err()))
			return
		}
		switch t.Kind {
		case tCommand:
			if !contains(a.cfg.AllowCommands, st.class) {
				run.add(st.addr, agent.Bouncef("5.7.1", "mail to command is restricted"))
				continue
			}
			a.command(ctx, run, st, t.Value)
		case tFile:
			if !contains(a.cfg.AllowFiles, st.class) {
				run.add(st.addr, agent.Bouncef("5.7.1", "mail to file is restricted"))
				continue
			}
			a.file(ctx, run, st, t.Value)
		case tInclude:
			a.include(ctx, run, st, t.Value, unmatched, delim)
		case tMailbox:
			a.directMailbox(ctx, run, st, t.Value)
		default:
			next := st
			next.addr = a.qualify(a.addExtension(t.Value, unmatched, delim))
			a.recipient(ctx, run, next)
		}
	}
}

// directMailbox delivers to \user: the mailbox, without alias or .forward.
func (a *Agent) directMailbox(ctx context.Context, run *rcptRun, st state, name string) {
	lp, domain := splitAddr(name)
	name = strings.ToLower(unquoteLocal(lp))
	u, ok := a.lookupUser(run, st, name)
	if !ok {
		return
	}
	a.mailbox(ctx, run, st, u, recipientVars{user: u, domain: domain, local: name})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(strings.TrimSpace(v), s) {
			return true
		}
	}
	return false
}

// dupFilter is Postfix's duplicate filter with duplicate_filter_limit:
// the keys seen so far, at most limit of them (0: no limit). Once full it
// remembers nothing more, so that memory stays bounded, and later
// repeats go through.
type dupFilter struct {
	limit int
	seen  map[string]bool
}

// has reports whether key was remembered.
func (f *dupFilter) has(key string) bool { return f.seen[key] }

// add remembers key if there is room.
func (f *dupFilter) add(key string) {
	if f.limit <= 0 || len(f.seen) < f.limit {
		f.seen[key] = true
	}
}

// first reports whether key is new, and remembers it.
func (f *dupFilter) first(key string) bool {
	if f.has(key) {
		return false
	}
	f.add(key)
	return true
}
