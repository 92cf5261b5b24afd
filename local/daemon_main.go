package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maps"
)

// bodyMemLimit is the largest message body the agent keeps in memory.
const bodyMemLimit = 1 << 20

// Main is the entry of `tern daemon local`.
func Main(args []string) int {
	d, err := daemon.Init("local")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/local: fatal: %v\n", err)
		return 1
	}
	cfg, closeMaps, err := ConfigFrom(d.Config)
	if err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	defer closeMaps()
	cfg.Log = d.Log
	if os.Geteuid() == 0 {
		exe, err := os.Executable()
		if err != nil {
			d.Log.Fatalf("find own binary: %v", err)
			return 1
		}
		cfg.Helper = rootSpawner(&ExecSpawner{Path: exe, Args: []string{"local-helper"}})
	}
	return agent.ServeDaemon(d, New(cfg), bodyMemLimit)
}

// ConfigFrom builds the agent's Config from main.cf. The returned function
// closes the lookup tables it opened.
func ConfigFrom(c *config.Config) (Config, func(), error) {
	cfg := Config{
		MyHostname:             c.Get("myhostname"),
		MyOrigin:               c.Get("myorigin"),
		RecipientDelimiter:     c.Get("recipient_delimiter"),
		HomeMailbox:            c.Get("home_mailbox"),
		MailSpoolDirectory:     c.Get("mail_spool_directory"),
		RequireHomeDirectory:   c.Bool("require_home_directory"),
		MailboxCommand:         c.Get("mailbox_command"),
		MailboxTransport:       strings.TrimSpace(c.Get("mailbox_transport")),
		FallbackTransport:      strings.TrimSpace(c.Get("fallback_transport")),
		LuserRelay:             strings.TrimSpace(c.Get("luser_relay")),
		ForwardPath:            c.List("forward_path"),
		AllowCommands:          c.List("allow_mail_to_commands"),
		AllowFiles:             c.List("allow_mail_to_files"),
		ExportEnv:              c.List("export_environment"),
		DefaultPrivs:           c.Get("default_privs"),
		MailboxSizeLimit:       c.Int64("mailbox_size_limit"),
		CommandTimeLimit:       c.Duration("command_time_limit"),
		OwnerRequestSpecial:    c.Bool("owner_request_special"),
		ExpandOwnerAlias:       c.Bool("expand_owner_alias"),
		ResetOwnerAlias:        c.Bool("reset_owner_alias"),
		CommandExpansionFilter: c.Get("command_expansion_filter"),
		ForwardExpansionFilter: c.Get("forward_expansion_filter"),
		ExecDirExpansionFilter: c.Get("execution_directory_expansion_filter"),
		LockMethods:            c.List("mailbox_delivery_lock"),
		LockAttempts:           c.Int("deliver_lock_attempts"),
		LockDelay:              c.Duration("deliver_lock_delay"),
		StaleLockTime:          c.Duration("stale_lock_time"),
		DupFilterLimit:         c.Int("duplicate_filter_limit"),
	}
	cfg.CommandShell = strings.Fields(c.Get("local_command_shell"))
	// Its $names are the recipient's, expanded at delivery (as in Postfix,
	// where it is a raw parameter).
	raw, _ := c.Raw("command_execution_directory")
	cfg.CommandDir = strings.TrimSpace(raw)
	var err error
	if cfg.NoDeliveredTo, err = deliveredToOmitted(c.List("prepend_delivered_header")); err != nil {
		return Config{}, nil, err
	}
	// forward_path keeps its per-recipient $names for the agent to expand.
	if raw, _ := c.Raw("forward_path"); raw != "" {
		cfg.ForwardPath = splitList(raw)
	}
	for _, d := range c.List("mydestination") {
		cfg.MyDestination = append(cfg.MyDestination, strings.ToLower(d))
	}
	closer := func() {}
	if specs, _ := maps.SplitSpecs(c.Get("alias_maps")); len(specs) > 0 {
		ms, warns, err := maps.OpenList(specs, maps.Options{})
		if err != nil {
			return Config{}, nil, fmt.Errorf("alias_maps: %w", err)
		}
		for _, w := range warns {
			fmt.Fprintf(os.Stderr, "tern/local: warning: %s\n", w)
		}
		cfg.Aliases = aliasMaps(ms)
		closer = func() {
			for _, m := range ms {
				m.Close()
			}
		}
	}
	for _, t := range []struct {
		dst  *[]maps.Map
		name string
	}{
		{&cfg.MailboxTransportMaps, "mailbox_transport_maps"},
		{&cfg.MailboxCommandMaps, "mailbox_command_maps"},
		{&cfg.FallbackTransportMaps, "fallback_transport_maps"},
	} {
		ms, warns, err := maps.OpenSpecList(c.Get(t.name), maps.Options{})
		if err != nil {
			closer()
			return Config{}, nil, fmt.Errorf("%s: %w", t.name, err)
		}
		for _, w := range warns {
			fmt.Fprintf(os.Stderr, "tern/local: warning: %s\n", w)
		}
		*t.dst = ms
		prev := closer
		closer = func() {
			prev()
			for _, m := range ms {
				m.Close()
			}
		}
	}
	cfg.Forward = &cleanupForwarder{queueDir: c.Get("queue_directory")}
	if cfg.MailboxTransport != "" || cfg.FallbackTransport != "" || len(cfg.MailboxTransportMaps) > 0 || len(cfg.FallbackTransportMaps) > 0 {
		cfg.Delegate = delegateTo(c.Get("queue_directory"), c.Duration("command_time_limit"))
	}
	return cfg, closer, nil
}

// delegateTo hands one recipient to the agent of a private master.cf
// service, as Postfix's local does for mailbox_transport and
// fallback_transport: over
// $queue_directory/private/TRANSPORT, with the message's envelope and
// content; the agent delivers and logs, and its result is returned.
func delegateTo(queueDir string, timeout time.Duration) func(context.Context, string, string, *agent.Request, envelope.Recipient) agent.Result {
	if timeout <= 0 {
		timeout = 1000 * time.Second
	}
	return func(ctx context.Context, transport, nexthop string, req *agent.Request, rcpt envelope.Recipient) agent.Result {
		return agent.Delegate(queueDir, timeout, transport, nexthop, req, []envelope.Recipient{rcpt})[0]
	}
}

// deliveredToOmitted returns the delivery contexts that the words of
// prepend_delivered_header leave out; an unknown word is an error, as
// in Postfix.
func deliveredToOmitted(words []string) (map[string]bool, error) {
	omit := map[string]bool{"command": true, "file": true, "forward": true}
	for _, w := range words {
		w = strings.ToLower(w)
		switch w {
		case "command", "file", "forward":
			delete(omit, w)
		default:
			return nil, fmt.Errorf("prepend_delivered_header: unknown delivery context %q (command, file or forward)", w)
		}
	}
	return omit, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

// aliasMaps looks an alias up in alias_maps, first match wins.
type aliasMaps []maps.Map

func (a aliasMaps) Lookup(key string) (string, bool, error) { return maps.LookupFirst(a, key) }

// cleanupForwarder submits forwarded copies through qmgr's cleanup service.
type cleanupForwarder struct {
	queueDir string
}

// Forward implements Forwarder.
func (f *cleanupForwarder) Forward(ctx context.Context, env *envelope.Envelope, sender string, rcpts []string, content io.Reader) (string, error) {
	c, err := ipc.Dial(daemon.ServiceSocket(f.queueDir, "cleanup"), 5*time.Minute)
	if err != nil {
		return "", err
	}
	defer c.Close()
	fenv := *env
	fenv.Sender = sender
	rec := fenv.Record().Add("request", "submit").Add("origin", "forward")
	for _, r := range rcpts {
		rec = rec.Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: r}))
	}
	if err := c.WriteFrame(ipc.FrameRequest, rec.Encode(nil)); err != nil {
		return "", fmt.Errorf("forward: %w", err)
	}
	w := c.BodyWriter()
	if _, err := io.Copy(w, content); err != nil {
		return "", fmt.Errorf("forward: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("forward: %w", err)
	}
	reply, err := c.Receive(ipc.FrameReply)
	if err != nil {
		return "", fmt.Errorf("forward: %w", err)
	}
	if reply.Get("status") != "ok" {
		return "", fmt.Errorf("forward refused: %s %s", reply.Get("dsn"), reply.Get("text"))
	}
	return reply.Get("id"), nil
}
