package qmgr

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/netlist"
	"github.com/tern-mta/tern/pkg/rewrite"
)

// addressRewriter is cleanup's address rewriting: canonical mapping,
// masquerading and virtual alias expansion of the envelope, and canonical
// mapping and masquerading of the headers of mail from clients in
// local_header_rewrite_clients.
type addressRewriter struct {
	rw *rewrite.Settings
	// local_header_rewrite_clients: which SMTP clients get their headers
	// rewritten and missing headers added (local submissions always do).
	allClients    bool
	saslClients   bool
	ownInterfaces map[netip.Addr]bool
	myNetworks    *netlist.List
	// alwaysAddMissing is always_add_missing_headers.
	alwaysAddMissing bool
	// keepOriginal is enable_original_recipient: duplicates are told
	// apart by their original recipient too.
	keepOriginal bool
	// dupLimit is duplicate_filter_limit: the most recipients whose
	// repeats are dropped (0: no limit).
	dupLimit int
	// remoteDomain is remote_header_rewrite_domain: when set, headers of
	// other clients are rewritten too, incomplete addresses getting it.
	remoteDomain string
}

func newAddressRewriter(cfg *config.Config, log *maillog.Logger) (*addressRewriter, error) {
	open := func(list string) ([]maps.Map, error) {
		ms, warns, err := maps.OpenSpecList(list, maps.Options{})
		for _, w := range warns {
			log.Warnf("%s", w)
		}
		return ms, err
	}
	rw, err := rewrite.FromConfig(cfg.Get, open)
	if err != nil {
		return nil, err
	}
	rw.Warn = func(msg string) { log.Warnf("%s", msg) }
	a := &addressRewriter{rw: rw, ownInterfaces: map[netip.Addr]bool{}, alwaysAddMissing: cfg.Bool("always_add_missing_headers"),
		keepOriginal: cfg.Bool("enable_original_recipient"), dupLimit: cfg.Int("duplicate_filter_limit")}
	a.remoteDomain = strings.TrimSpace(cfg.Get("remote_header_rewrite_domain"))
	for _, w := range cfg.List("local_header_rewrite_clients") {
		switch w {
		case "permit_inet_interfaces":
			a.addInterfaces(append(cfg.List("inet_interfaces"), cfg.List("proxy_interfaces")...))
		case "permit_mynetworks":
			if a.myNetworks, err = netlist.New("mynetworks", cfg.List("mynetworks"), maps.Options{}); err != nil {
				rw.Close()
				return nil, err
			}
		case "permit_sasl_authenticated":
			a.saslClients = true
		case "static:all":
			a.allClients = true
		default:
			log.Warnf("local_header_rewrite_clients: %q is not supported; only permit_inet_interfaces, permit_mynetworks, permit_sasl_authenticated and static:all are", w)
		}
	}
	return a, nil
}

func (a *addressRewriter) close() {
	a.rw.Close()
	_ = a.myNetworks.Close()
}

// addBCC adds the automatic BCC recipients (always_bcc, sender_bcc_maps,
// recipient_bcc_maps) to a message from outside, as Postfix does: with
// NOTIFY=NEVER, so that a failing copy tells the sender nothing. The
// tables are searched with the addresses as received (Postfix searches
// them after canonical mapping); the copies are then rewritten and
// expanded with the other recipients by envelope.
func (a *addressRewriter) addBCC(env *envelope.Envelope) error {
	rcpts := make([]string, 0, len(env.Recipients))
	for _, r := range env.Recipients {
		rcpts = append(rcpts, r.Address)
	}
	bcc, err := a.rw.BCC(env.Sender, rcpts)
	if err != nil {
		return err
	}
	for _, b := range bcc {
		env.Recipients = append(env.Recipients, envelope.Recipient{Address: b, Original: b, Notify: envelope.NotifyNever})
	}
	return nil
}

// envelope rewrites the sender and expands every recipient. Recipients
// that expand to several addresses keep their original recipient and DSN
// settings; duplicates are dropped: with enable_original_recipient (the
// default) those of the same original and final address, as Postfix's
// cleanup does, so that two addresses aliased to one mailbox get a copy
// each, told apart by X-Original-To; else those of the same final
// address.
func (a *addressRewriter) envelope(env *envelope.Envelope) error {
	if env.Sender != "" {
		s, err := a.rw.Sender(env.Sender)
		if err != nil {
			return err
		}
		env.Sender = s
	}
	seen := make(map[string]bool, len(env.Recipients))
	out := make([]envelope.Recipient, 0, len(env.Recipients))
	for _, r := range env.Recipients {
		if r.Status != envelope.Pending {
			out = append(out, r)
			continue
		}
		addrs, err := a.rw.ExpandRecipient(r.Address)
		if err != nil {
			return err
		}
		for _, addr := range addrs {
			key := strings.ToLower(addr)
			if a.keepOriginal {
				key = strings.ToLower(r.Original) + "\n" + key
			}
			if seen[key] {
				continue
			}
			if a.dupLimit <= 0 || len(seen) < a.dupLimit {
				seen[key] = true
			}
			c := r
			c.Address = addr
			out = append(out, c)
		}
	}
	env.Recipients = out
	return nil
}

// localClient reports whether a submission's headers are rewritten and
// completed: local submissions, and SMTP clients that
// local_header_rewrite_clients names.
func (a *addressRewriter) localClient(s *submission) bool {
	if s.local || a.allClients || (a.saslClients && s.saslUser != "") {
		return true
	}
	ip, err := netip.ParseAddr(s.env.ClientAddr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	if a.ownInterfaces[ip] {
		return true
	}
	// A mynetworks table that can't be searched means no header
	// rewriting for this message, not a failed delivery.
	mine, err := a.myNetworks.Match(ip)
	if err != nil {
		a.rw.Warn(err.Error())
	}
	return mine
}

// addInterfaces records this host's addresses as inet_interfaces names
// them (netlist.OwnAddrs).
func (a *addressRewriter) addInterfaces(list []string) {
	for ip := range netlist.OwnAddrs(list) {
		a.ownInterfaces[ip] = true
	}
}

// headers returns the header rewriting hook for a submission, or nil when
// its headers are left alone.
func (a *addressRewriter) headers(s *submission) func(name, value string) (string, bool, error) {
	if !a.localClient(s) {
		if a.remoteDomain != "" {
			return a.rw.RemoteHeaderLine(a.remoteDomain)
		}
		return nil
	}
	return a.rw.HeaderLine
}

// noMissingHeaders reports whether cleanup leaves out the missing
// Message-Id, Date and From headers, as Postfix does for clients outside
// local_header_rewrite_clients unless always_add_missing_headers is set.
func (a *addressRewriter) noMissingHeaders(s *submission) bool {
	return !a.alwaysAddMissing && !a.localClient(s)
}

// rewriteRejection turns a rewriting failure into cleanup's answer: every
// such failure is temporary, as in Postfix.
func rewriteRejection(err error) *rejection {
	var re *rewrite.Error
	if errors.As(err, &re) {
		_, dsn, text := re.Status()
		return &rejection{code: exTempFail, dsn: dsn, text: text}
	}
	return &rejection{code: exTempFail, dsn: "4.3.0", text: fmt.Sprintf("address rewriting failed: %v", err)}
}
