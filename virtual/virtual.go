// Package virtual is tern's virtual delivery agent, the work-alike of
// Postfix's virtual(8): it delivers mail for virtual mailbox domains to
// mbox files and Maildirs under virtual_mailbox_base, found by looking the
// full recipient address up in virtual_mailbox_maps and written with the
// numeric user and group ids that virtual_uid_maps and virtual_gid_maps
// give. It only delivers: aliasing, forwarding and vacation replies are
// done elsewhere (virtual_alias_maps in cleanup).
package virtual

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/mailbox"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
)

// Config is the agent's configuration, from main.cf.
type Config struct {
	MailboxBase        string     // virtual_mailbox_base: absolute directory
	MailboxMaps        []maps.Map // virtual_mailbox_maps
	UIDMaps            []maps.Map // virtual_uid_maps
	GIDMaps            []maps.Map // virtual_gid_maps
	MinimumUID         int        // virtual_minimum_uid
	RecipientDelimiter string     // recipient_delimiter
	MailboxLimit       int64      // virtual_mailbox_limit; 0 = none
	LockMethods        []string   // virtual_mailbox_lock
	LockAttempts       int        // deliver_lock_attempts
	LockDelay          time.Duration
	StaleLockTime      time.Duration
	StrictOwnership    bool // strict_mailbox_ownership
	Log                *maillog.Logger
	// RunAs runs fn with effective user and group ids uid and gid. nil
	// chooses DefaultRunAs.
	RunAs func(uid, gid int, fn func()) error
}

// Agent delivers to virtual mailboxes. It implements agent.Deliverer.
type Agent struct {
	cfg Config
	// mboxes orders this process's deliveries to one mbox.
	mboxes mailbox.PathLocks
}

// New checks cfg and returns the agent. An empty MailboxBase is allowed,
// as the default master.cf runs the agent whether or not virtual
// mailboxes are configured: deliveries then defer with a configuration
// error, as they do with Postfix, whose virtual(8) only starts when used.
func New(cfg Config) (*Agent, error) {
	if err := CheckBase(cfg.MailboxBase); err != nil {
		return nil, err
	}
	if cfg.RunAs == nil {
		cfg.RunAs = DefaultRunAs
	}
	if cfg.Log == nil {
		cfg.Log = maillog.NewWriter(os.Stderr, "tern/virtual")
	}
	return &Agent{cfg: cfg}, nil
}

// CheckBase refuses a relative virtual_mailbox_base.
func CheckBase(base string) error {
	if base != "" && !strings.HasPrefix(base, "/") {
		return fmt.Errorf("do not specify relative pathname: virtual_mailbox_base = %s", base)
	}
	return nil
}

// DefaultRunAs runs fn as uid/gid: as root, on a thread switched to those
// ids (mailbox.AsThreadUser); otherwise directly when uid is the
// process's own effective uid, and not at all for any other uid.
func DefaultRunAs(uid, gid int, fn func()) error { return runAs(os.Geteuid(), uid, gid, fn) }

// runAs is DefaultRunAs for a process whose effective uid is euid.
func runAs(euid, uid, gid int, fn func()) error {
	switch {
	case euid == 0:
		return mailbox.AsThreadUser(uid, gid, fn)
	case uid == euid:
		fn()
		return nil
	}
	return fmt.Errorf("not running as root: cannot deliver as uid %d (running as uid %d)", uid, euid)
}

// Deliver implements agent.Deliverer: one result per recipient, in order.
func (a *Agent) Deliver(ctx context.Context, req *agent.Request) []agent.Result {
	relay := req.Transport
	if relay == "" {
		relay = "virtual"
	}
	out := make([]agent.Result, len(req.Recipients))
	for i, rc := range req.Recipients {
		if err := ctx.Err(); err != nil {
			out[i] = agent.Deferf("4.3.0", "delivery interrupted: %v", err)
		} else if a.cfg.MailboxBase == "" {
			a.cfg.Log.Warnf("virtual_mailbox_base is not set: cannot deliver to %s", rc.Address)
			out[i] = agent.Deferf("4.3.5", "mail system configuration error")
		} else {
			out[i] = a.deliverOne(ctx, req, rc)
		}
		out[i].Relay = relay
	}
	return out
}

// deliverOne finds the recipient's mailbox and owner and delivers to it.
func (a *Agent) deliverOne(ctx context.Context, req *agent.Request, rc envelope.Recipient) agent.Result {
	user := strings.ToLower(rc.Address)
	res, found, err := a.find(a.cfg.MailboxMaps, user)
	if err != nil {
		a.cfg.Log.Warnf("table virtual_mailbox_maps: lookup %s: %v", user, err)
		return agent.Deferf("4.3.0", "mail system configuration error")
	}
	if !found {
		return agent.Bouncef("5.1.1", "unknown user: \"%s\"", user)
	}
	if req.Env.Verifying() {
		return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivers to maildir or mailbox"}
	}
	uid, bad := a.lookupID(a.cfg.UIDMaps, "virtual_uid_maps", "uid", user, a.cfg.MinimumUID)
	if bad != nil {
		return *bad
	}
	gid, bad := a.lookupID(a.cfg.GIDMaps, "virtual_gid_maps", "gid", user, 1)
	if bad != nil {
		return *bad
	}
	mb := target{
		path:    filepath.Join(a.cfg.MailboxBase, res),
		maildir: strings.HasSuffix(res, "/"),
		uid:     uid,
		gid:     gid,
	}
	var result agent.Result
	err = a.cfg.RunAs(uid, gid, func() { result = a.write(ctx, mb, a.options(req, rc, mb), req.Body) })
	if err != nil {
		a.cfg.Log.Warnf("%s: recipient %s: %v", req.Env.ID, rc.Address, err)
		return agent.Deferf("4.3.0", "cannot deliver as uid %d gid %d: %v", uid, gid, err)
	}
	return result
}

// lookupID finds a numeric user or group id for user in ms. A missing
// entry, a lookup error or an id below min defers, as Postfix does.
func (a *Agent) lookupID(ms []maps.Map, param, what, user string, min int) (int, *agent.Result) {
	v, found, err := a.find(ms, user)
	var warn string
	switch {
	case err != nil:
		warn = fmt.Sprintf("table %s: lookup %s: %v", param, user, err)
	case !found:
		warn = fmt.Sprintf("recipient %s: not found in %s", user, param)
	default:
		n, perr := strconv.Atoi(strings.TrimSpace(v))
		if perr == nil && n >= min {
			return n, nil
		}
		warn = fmt.Sprintf("recipient %s: bad %s %s in %s", user, what, v, param)
	}
	a.cfg.Log.Warnf("%s", warn)
	r := agent.Deferf("4.3.5", "mail system configuration error")
	return 0, &r
}

// find looks addr up as Postfix's mail_addr_find does for virtual(8):
// the full address, then without its extension, then "@domain"; each key
// is tried in every table before the next key.
func (a *Agent) find(ms []maps.Map, addr string) (string, bool, error) {
	for _, key := range lookupKeys(addr, a.cfg.RecipientDelimiter) {
		v, ok, err := maps.LookupFirst(ms, key)
		if err != nil || ok {
			return v, ok, err
		}
	}
	return "", false, nil
}

// lookupKeys returns the keys searched for addr: "user+ext@domain",
// "user@domain" (when delim is set and the local part has an extension)
// and "@domain".
func lookupKeys(addr, delim string) []string {
	keys := []string{addr}
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr, ""
	if at >= 0 {
		local, domain = addr[:at], addr[at:]
	}
	if delim != "" {
		if i := strings.IndexAny(local, delim); i > 0 {
			keys = append(keys, local[:i]+domain)
		}
	}
	if at >= 0 && len(domain) > 1 {
		keys = append(keys, domain)
	}
	return keys
}

// target is a resolved mailbox.
type target struct {
	path     string
	maildir  bool
	uid, gid int
}

// options are the mailbox package's settings for one delivery.
func (a *Agent) options(req *agent.Request, rc envelope.Recipient, mb target) mailbox.Options {
	o := mailbox.Options{
		Sender:       req.Env.Sender,
		Prepend:      prepend(req.Env.Sender, rc),
		SizeLimit:    a.cfg.MailboxLimit,
		LockMethods:  a.cfg.LockMethods,
		LockAttempts: a.cfg.LockAttempts,
		LockDelay:    a.cfg.LockDelay,
		StaleLock:    a.cfg.StaleLockTime,
		OwnerUID:     -1,
		OwnerGID:     -1,
		Locks:        &a.mboxes,
	}
	if a.cfg.StrictOwnership {
		o.OwnerUID, o.OwnerGID = mb.uid, mb.gid
	}
	return o
}

// prepend returns the Return-Path, X-Original-To and Delivered-To headers
// that virtual(8) adds.
func prepend(sender string, rc envelope.Recipient) string {
	orig := rc.Original
	if orig == "" {
		orig = rc.Address
	}
	return "Return-Path: <" + sender + ">\n" +
		"X-Original-To: " + orig + "\n" +
		"Delivered-To: " + rc.Address + "\n"
}

// write delivers to mb with the current (already switched) identity,
// creating missing parent directories.
func (a *Agent) write(ctx context.Context, mb target, o mailbox.Options, body agent.Body) agent.Result {
	if mb.maildir {
		if err := mailbox.DeliverMaildir(mb.path, o, agent.Reader(body)); err != nil {
			return failure(err, "")
		}
		return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to maildir"}
	}
	prefix := "delivery failed to mailbox " + mb.path + ": "
	if dir := filepath.Dir(mb.path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return failure(&mailbox.Error{DSN: mkdirDSN(err), Text: "create directory " + dir + ": " + mailbox.ErrnoText(err), Err: err}, prefix)
		}
	}
	if err := mailbox.AppendMbox(ctx, mb.path, o, agent.Reader(body)); err != nil {
		return failure(err, prefix)
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to mailbox"}
}

// mkdirDSN is Postfix's mbox_dsn with default 4.2.0.
func mkdirDSN(err error) string {
	if d := mailbox.WriteDSN(err); d[0] == '5' {
		return d
	}
	return "4.2.0"
}

// failure turns a mailbox package error into a result, its text after
// prefix.
func failure(err error, prefix string) agent.Result {
	var me *mailbox.Error
	if !errors.As(err, &me) {
		me = &mailbox.Error{DSN: "4.3.0", Text: err.Error()}
	}
	if me.Permanent() {
		return agent.Bouncef(me.DSN, "%s%s", prefix, me.Text)
	}
	return agent.Deferf(me.DSN, "%s%s", prefix, me.Text)
}
