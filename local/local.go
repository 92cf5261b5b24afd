// Package local is tern's local(8) delivery agent: it delivers mail for the
// domains in $mydestination to aliases (aliases(5)), to the destinations in
// users' ~/.forward files, to mbox or Maildir mailboxes, to commands and to
// files, with the semantics of Postfix 3.7's local(8).
//
// Alias and .forward expansion follows Postfix: the expansion of an alias
// without an owner- companion that names local users is delivered directly,
// within the same request (Postfix recurses in-process too); the local
// members of an alias with an owner- companion, the members of :include:
// files, and the addresses in a .forward file other than the user itself,
// as well as every non-local address, are forwarded: they are submitted as
// ONE new message per envelope sender, through Config.Forward, with a
// "Delivered-To:" header naming the original recipient.
//
// When the agent runs as root, every write and every command runs in a child
// process with the recipient's (or default_privs') uid and gid, started by a
// HelperSpawner; otherwise deliveries run in-process as the current user.
package local

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/mailbox"
	"github.com/tern-mta/tern/pkg/maps"
)

// Postfix defaults for the parameters that have one.
const (
	DefaultCommandTimeLimit = 1000 * time.Second // command_time_limit
	DefaultLockAttempts     = 20                 // deliver_lock_attempts
	DefaultLockDelay        = time.Second        // deliver_lock_delay
	DefaultStaleLockTime    = 500 * time.Second  // stale_lock_time
	maxNesting              = 100                // recipient nesting limit
)

// ErrNoUser is what a UserDB returns for an unknown user.
var ErrNoUser = errors.New("no such user")

// AliasLookup looks up one alias (the lower-case local part) in alias_maps.
type AliasLookup interface {
	Lookup(key string) (value string, found bool, err error)
}

// Forwarder submits forwarded mail as a new message.
type Forwarder interface {
	// Forward submits a new message (same content, with the Delivered-To
	// header the caller already prepended) from sender to rcpts through
	// cleanup, durably; returns the new queue id.
	Forward(ctx context.Context, env *envelope.Envelope, sender string, rcpts []string, content io.Reader) (string, error)
}

// Logger receives the agent's log lines; *maillog.Logger satisfies it.
type Logger interface {
	Infof(format string, args ...any)
	Warnf(format string, args ...any)
}

// User is one account, as in /etc/passwd.
type User struct {
	Name, Home, Shell, Gecos string
	UID, GID                 int
}

// UserDB looks up accounts by name; it returns ErrNoUser for unknown names.
type UserDB interface {
	Lookup(name string) (*User, error)
}

// Config is the local agent's configuration, with Postfix's parameter
// names in the comments.
type Config struct {
	MyHostname    string   // myhostname
	MyOrigin      string   // myorigin
	MyDestination []string // mydestination: expanded, lower-case domains
	Aliases       AliasLookup
	// RecipientDelimiter is recipient_delimiter: every character is a
	// delimiter; "" disables address extensions.
	RecipientDelimiter string
	// HomeMailbox is home_mailbox: "" = mbox in MailSpoolDirectory/USER;
	// ending in "/" = Maildir under the home directory; else an mbox file
	// under the home directory.
	HomeMailbox        string
	MailSpoolDirectory string // mail_spool_directory
	// RequireHomeDirectory is require_home_directory: a recipient whose
	// home directory can't be reached is deferred. Otherwise (Postfix's
	// default) its mail goes to the spool mailbox all the same, without a
	// .forward.
	RequireHomeDirectory bool
	MailboxCommand       string // mailbox_command, run by /bin/sh as the user
	// CommandShell is local_command_shell split into words: the program
	// that runs mailbox_command and |command deliveries, the command
	// added as its last argument; nil means /bin/sh -c.
	CommandShell []string
	// CommandDir is command_execution_directory, its per-recipient $names
	// ($home, $user, $recipient, ...) not yet expanded: the working
	// directory of commands; "" means the home directory of the account
	// whose rights a command has.
	CommandDir string
	// NoDeliveredTo holds the delivery contexts (command, file, forward)
	// that prepend_delivered_header leaves out: those get no Delivered-To
	// header. Mailbox and Maildir deliveries are "file".
	NoDeliveredTo map[string]bool
	// DupFilterLimit is duplicate_filter_limit: the most deliveries,
	// aliases, includes and .forward files one recipient's expansion
	// remembers to skip repeats (0: no limit).
	DupFilterLimit int
	// MailboxTransport is mailbox_transport ("lmtp:unix:private/dovecot-lmtp",
	// "dovecot"): mailbox delivery is handed to that master.cf service,
	// for known and unknown users alike; Delegate does it.
	MailboxTransport string
	// MailboxTransportMaps, MailboxCommandMaps and FallbackTransportMaps
	// are mailbox_transport_maps, mailbox_command_maps and
	// fallback_transport_maps: per-user (login name) overrides of
	// MailboxTransport, MailboxCommand and FallbackTransport.
	MailboxTransportMaps, MailboxCommandMaps, FallbackTransportMaps []maps.Map
	// FallbackTransport is fallback_transport: the service that gets mail
	// for names without an account, before LuserRelay.
	FallbackTransport string
	// LuserRelay is luser_relay: where mail for a name without an account
	// goes ($user, $local, $domain, ... expanded), "" to bounce it.
	LuserRelay string
	// Delegate hands one recipient to another delivery agent
	// (MailboxTransport, FallbackTransport and their maps); nil makes such
	// deliveries defer.
	Delegate func(ctx context.Context, transport, nexthop string, req *agent.Request, rcpt envelope.Recipient) agent.Result
	// ForwardPath is forward_path, with main.cf's $names expanded; the
	// per-recipient $home, $user, $extension, $recipient_delimiter, $local,
	// $domain, $shell and $recipient are expanded here.
	ForwardPath   []string
	AllowCommands []string // allow_mail_to_commands: alias, forward, include
	AllowFiles    []string // allow_mail_to_files: alias, forward, include
	// ExportEnv is export_environment: NAME (copied from the agent's own
	// environment when set) or NAME=value, given to commands first.
	ExportEnv           []string
	DefaultPrivs        string        // default_privs
	MailboxSizeLimit    int64         // mailbox_size_limit; 0 = none
	CommandTimeLimit    time.Duration // command_time_limit; 0 = 1000s
	OwnerRequestSpecial bool          // owner_request_special
	ExpandOwnerAlias    bool          // expand_owner_alias
	ResetOwnerAlias     bool          // reset_owner_alias
	// CommandExpansionFilter is command_expansion_filter: the characters
	// kept in the environment of commands; ForwardExpansionFilter
	// (forward_expansion_filter) and ExecDirExpansionFilter
	// (execution_directory_expansion_filter) those kept in the $name
	// values of forward_path and command_execution_directory. Any other
	// becomes "_"; "" means Postfix's default.
	CommandExpansionFilter string
	ForwardExpansionFilter string
	ExecDirExpansionFilter string
	LockMethods            []string      // mailbox_delivery_lock: fcntl, dotlock, flock
	LockAttempts           int           // deliver_lock_attempts; 0 = 20
	LockDelay              time.Duration // deliver_lock_delay; 0 = 1s
	StaleLockTime          time.Duration // stale_lock_time; 0 = 500s
	Forward                Forwarder     // nil: forwarding defers
	Users                  UserDB        // nil = the system's accounts
	Log                    Logger        // nil = no logging
	// Helper runs deliveries as other users; nil when not root: deliveries
	// then run in-process as the current user.
	Helper HelperSpawner
}

// Agent is the local delivery agent; it implements agent.Deliverer.
type Agent struct {
	cfg   Config
	local map[string]bool // lower-case local domains
	// mboxes orders this process's deliveries to one mailbox or file.
	mboxes mailbox.PathLocks
}

var _ agent.Deliverer = (*Agent)(nil)

// New returns an agent with cfg, filling in Postfix's defaults for zero
// values where Postfix has one.
func New(cfg Config) *Agent {
	if cfg.CommandTimeLimit <= 0 {
		cfg.CommandTimeLimit = DefaultCommandTimeLimit
	}
	if cfg.LockAttempts <= 0 {
		cfg.LockAttempts = DefaultLockAttempts
	}
	if cfg.LockDelay <= 0 {
		cfg.LockDelay = DefaultLockDelay
	}
	if cfg.StaleLockTime <= 0 {
		cfg.StaleLockTime = DefaultStaleLockTime
	}
	if cfg.MailSpoolDirectory == "" {
		cfg.MailSpoolDirectory = "/var/mail"
	}
	if cfg.DefaultPrivs == "" {
		cfg.DefaultPrivs = "nobody"
	}
	if cfg.Users == nil {
		cfg.Users = SystemUsers{}
	}
	if cfg.Log == nil {
		cfg.Log = nopLogger{}
	}
	a := &Agent{cfg: cfg, local: map[string]bool{}}
	for _, d := range cfg.MyDestination {
		a.local[strings.ToLower(strings.TrimSuffix(d, "."))] = true
	}
	return a
}

type nopLogger struct{}

func (nopLogger) Infof(string, ...any) {}
func (nopLogger) Warnf(string, ...any) {}

// Deliver delivers req's content to each recipient and returns one result
// per recipient, in order.
func (a *Agent) Deliver(ctx context.Context, req *agent.Request) []agent.Result {
	rs := a.newRequestState(req)
	out := make([]agent.Result, len(req.Recipients))
	for i, rc := range req.Recipients {
		if req.Env.Probe && !rs.traceOnly {
			out[i] = a.probe(rc)
		} else {
			out[i] = a.deliverTop(ctx, rs, rc)
		}
		out[i].Relay = "local"
	}
	return out
}

// deliverTop delivers to one recipient of the request and combines the
// outcomes of everything its expansion produced into one result.
func (a *Agent) deliverTop(ctx context.Context, rs *requestState, rc envelope.Recipient) agent.Result {
	run := &rcptRun{rs: rs, top: rc, dups: dupFilter{limit: a.cfg.DupFilterLimit, seen: map[string]bool{}}}
	st := state{addr: rc.Address, sender: rs.req.Env.Sender}
	a.recipient(ctx, run, st)
	a.flushForwards(ctx, run)
	res := run.combine()
	res.Trace = run.traces
	return res
}

// requestState is shared by all recipients of one request.
type requestState struct {
	req      *agent.Request
	loopInfo map[string]bool         // lower-case Delivered-To values in the message
	done     map[string]agent.Result // duplicate filter: delivery key -> outcome
	crlf     bool                    // the content uses CRLF line ends
	// tracing: each outcome is listed with its address for sendmail's
	// report (-bv or -v); traceOnly (-bv): nothing is delivered.
	tracing, traceOnly bool
	log                Logger
	start              time.Time // of the request, for the delays of its lines
}

func (a *Agent) newRequestState(req *agent.Request) *requestState {
	rs := &requestState{req: req, done: map[string]agent.Result{}, log: a.cfg.Log, start: time.Now()}
	if req.Env == nil {
		req.Env = &envelope.Envelope{}
	}
	if req.Body == nil {
		req.Body = agent.NewMemBody(nil)
	}
	rs.loopInfo, rs.crlf = scanDeliveredTo(agent.Reader(req.Body))
	rs.tracing, rs.traceOnly = req.Env.Trace != "", req.Env.Trace == envelope.TraceVerify
	return rs
}

// dirExists reports whether path names an existing directory.
func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// commandFilter is command_expansion_filter, or Postfix's default.
func (c *Config) commandFilter() string { return orDefaultFilter(c.CommandExpansionFilter) }

// forwardFilter is forward_expansion_filter, or Postfix's default.
func (c *Config) forwardFilter() string { return orDefaultFilter(c.ForwardExpansionFilter) }

// execDirFilter is execution_directory_expansion_filter, or Postfix's
// default.
func (c *Config) execDirFilter() string { return orDefaultFilter(c.ExecDirExpansionFilter) }

func orDefaultFilter(f string) string {
	if f == "" {
		return DefaultExpansionFilter
	}
	return f
}
