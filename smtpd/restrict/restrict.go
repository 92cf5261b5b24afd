// Package restrict implements Postfix's SMTP server access restrictions
// (smtpd_client_restrictions, smtpd_helo_restrictions,
// smtpd_sender_restrictions, smtpd_relay_restrictions,
// smtpd_recipient_restrictions, smtpd_data_restrictions and
// smtpd_end_of_data_restrictions) as a pure engine: smtpd describes what it
// knows in Facts, and Check answers with the reply Postfix would send.
//
// Lists are evaluated left to right. A restriction that permits ends its
// list (the next stage's list is still evaluated); one that rejects or
// defers ends the whole check; DUNNO and "no match" go on to the next
// restriction. Every list ends with an implicit permit. Everything that
// looks outside (tables, DNS, the address classes of mydestination and
// friends) comes in through Deps, so that tables can test the engine.
package restrict

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/reply"
)

// Facts is what smtpd knows when it asks.
type Facts struct {
	// EtrnDomain is the argument of ETRN (stage Etrn).
	EtrnDomain string
	ClientAddr netip.Addr
	// ClientName is the verified reverse name of the client, or "unknown".
	ClientName string
	// ClientNameTempFail reports that ClientName is "unknown" because of a
	// temporary DNS failure (Postfix then replies 450 whatever
	// unknown_client_reject_code says).
	ClientNameTempFail bool
	// ReverseClientName is the name found by the PTR lookup alone, not
	// verified by a forward lookup, or "unknown". Empty means "same as
	// ClientName".
	ReverseClientName string
	// ReverseNameTempFail reports a temporary failure of the PTR lookup.
	ReverseNameTempFail bool
	ClientPort          int
	// Helo is the HELO/EHLO argument; empty when the client sent none.
	Helo string
	// Sender is the MAIL FROM address without <>; "" is the null sender.
	Sender string
	// Recipient is the RCPT TO address without <> (at Data and EndOfData
	// it is used only when RecipientCount is 1, as Postfix does).
	Recipient string
	// SASLUser is the SASL login name, "" when not authenticated.
	SASLUser string
	TLS      bool
	// ClientCert is the certificate the client presented in the TLS
	// handshake (smtpd_tls_ask_ccert), nil when none.
	ClientCert *ClientCert
	// Pipelined reports that the client sent a command ahead of a reply
	// where it may not (for reject_unauth_pipelining).
	Pipelined bool
	Protocol  string // "SMTP" or "ESMTP"
	// Instance tells the mail transactions of a connection apart, for
	// policy servers (the same value for every query of one transaction).
	Instance string
	// SASLMethod is the SASL mechanism the client authenticated with.
	SASLMethod string
	// Size is the message size the client declared with MAIL SIZE=.
	Size int64
	// RecipientCount is the number of recipients accepted so far in this
	// transaction: at Rcpt it does not count the recipient being checked;
	// at Data and EndOfData it is the transaction's total.
	RecipientCount int
}

// ClientCert describes a TLS client certificate for
// permit_tls_clientcerts, permit_tls_all_clientcerts and
// check_ccert_access.
type ClientCert struct {
	// Fingerprint and PublicKeyFingerprint are the digests
	// (smtpd_tls_fingerprint_digest) of the certificate and of its public
	// key, in Postfix's form: upper-case hex pairs joined by colons.
	Fingerprint, PublicKeyFingerprint string
	// Trusted reports that the certificate chains to an authority of
	// smtpd_tls_CAfile or smtpd_tls_CApath.
	Trusted bool
}

// Verification results of Deps.Verify.
const (
	VerifyDeliverable   = "deliverable"
	VerifyUndeliverable = "undeliverable"
	VerifyDeferred      = "deferred" // the probe failed temporarily
	VerifyUnknown       = "unknown"  // no result yet
)

// Deps are lookups the engine needs from outside. All are optional: when
// one is nil, a restriction that needs it is a configuration error
// reported by New.
type Deps struct {
	// OpenMap opens the access tables named by check_*_access (and bare
	// type:name entries). It is called by New, once per table.
	OpenMap func(spec string) (maps.Map, error)
	// LocalDomain reports whether a domain matches mydestination or, for an
	// address literal "[1.2.3.4]", inet_interfaces/proxy_interfaces.
	// Domains are passed in lower case, without a trailing dot.
	LocalDomain func(domain string) (bool, error)
	// RelayDomain reports whether a domain matches relay_domains
	// (including parent_domain_matches_subdomains behaviour).
	RelayDomain func(domain string) (bool, error)
	// VirtualDomain reports whether a domain matches virtual_alias_domains
	// or virtual_mailbox_domains.
	VirtualDomain func(domain string) (bool, error)
	// VirtualAliasDomain, when set, tells virtual alias domains apart from
	// virtual mailbox domains for the "User unknown in virtual alias
	// table" reply; without it every virtual domain counts as a mailbox
	// domain.
	VirtualAliasDomain func(domain string) (bool, error)
	// KnownRecipient reports whether a resolved address is a valid
	// recipient of its address class (local_recipient_maps,
	// virtual_alias_maps, virtual_mailbox_maps, relay_recipient_maps,
	// canonical maps). It returns true when the class has no table.
	KnownRecipient func(ctx context.Context, addr string) (known bool, err error)
	// Relocated, when set, looks a resolved address up in relocated_maps
	// and returns its new location; a listed recipient is rejected with
	// 550 5.1.6 "User has moved to ..." where unknown ones would be.
	Relocated func(ctx context.Context, addr string) (newLocation string, found bool, err error)
	// DomainResolves reports whether a domain has an MX, A or AAAA record
	// (reject_unknown_*_domain, reject_unknown_helo_hostname).
	DomainResolves func(ctx context.Context, domain string) (ok bool, temporary bool, err error)
	// MyNetworks reports whether a client address matches mynetworks
	// (netlist.List.Match); an error is a table that can't be searched.
	MyNetworks func(addr netip.Addr) (bool, error)
	// PolicyQuery asks the policy server named by check_policy_service
	// (inet:host:port or unix:path) about a request of "name=value"
	// attributes, and returns the action it answers. An error means no
	// usable answer; smtpd_policy_service_default_action applies.
	PolicyQuery func(ctx context.Context, svc PolicyService, attrs [][2]string) (action string, err error)
	// Verify asks the address verification service about an address
	// (reject_unverified_sender, reject_unverified_recipient): one of the
	// Verify* results, with its text. An error means no answer.
	Verify func(ctx context.Context, addr string) (status, text string, err error)
	// DNSList looks a name up in a DNS list (reject_rbl_client and its
	// kin): the IPv4 addresses of its A records, none when it is not
	// listed, and the text of its TXT records. An error is a lookup that
	// could not be answered.
	DNSList func(ctx context.Context, name string) (addrs []netip.Addr, text string, err error)
	// ServerHosts returns the hosts check_*_{mx,ns,a}_access look at for
	// domain: rrtype MX gives its MX hosts (the domain itself when it has
	// none), NS its name servers (of the closest parent that has some), A
	// the domain with its addresses. None, without error, when there are
	// none; an error is a lookup that could not be answered.
	ServerHosts func(ctx context.Context, domain, rrtype string) ([]ServerHost, error)
	// OwnAddr reports whether an address is this host's
	// (inet_interfaces, proxy_interfaces), for permit_mx_backup.
	OwnAddr func(netip.Addr) bool
	// InetInterface reports whether an address is one of
	// inet_interfaces, for permit_inet_interfaces.
	InetInterface func(netip.Addr) bool
	// MXBackupNetworks, when set, is permit_mx_backup_networks: the
	// networks the primary MX hosts of a backed-up domain must be in.
	MXBackupNetworks func(netip.Addr) (bool, error)
	// SenderOwners returns the SASL login names that own a sender address
	// (smtpd_sender_login_maps, searched as Postfix searches it): found is
	// false for an address nobody owns. Nil when the maps are not set.
	SenderOwners func(ctx context.Context, sender string) (owners []string, found bool, err error)
	// Logf receives Postfix's informational lines (reject_warning, WARN
	// and INFO actions, table warnings). Nil drops them.
	Logf func(format string, args ...any)
}

// Stage is the SMTP protocol stage at which smtpd asks.
type Stage int

// Protocol stages.
const (
	Connect   Stage = iota // client connected: smtpd_client_restrictions
	Helo                   // HELO/EHLO: smtpd_helo_restrictions
	Mail                   // MAIL FROM: smtpd_sender_restrictions
	Rcpt                   // RCPT TO: relay, then recipient restrictions
	Data                   // DATA: smtpd_data_restrictions
	EndOfData              // end of message: smtpd_end_of_data_restrictions
	Etrn                   // ETRN: smtpd_etrn_restrictions, with Facts.EtrnDomain
)

// String returns the SMTP command name Postfix logs for the stage.
func (s Stage) String() string {
	switch s {
	case Connect:
		return "CONNECT"
	case Helo:
		return "HELO"
	case Mail:
		return "MAIL"
	case Rcpt:
		return "RCPT"
	case Data:
		return "DATA"
	case EndOfData:
		return "END-OF-MESSAGE"
	case Etrn:
		return "ETRN"
	}
	return fmt.Sprintf("Stage(%d)", int(s))
}

// Result is the outcome of Check. It is the zero Result when the stage
// passes, except that a pass decided by a restriction named in
// smtpd_log_access_permit_actions has Permit set (and a zero Reply).
type Result struct {
	// Reply is what smtpd sends; zero when the stage passes.
	Reply reply.Reply
	// Log is the short reason, e.g. "Relay access denied"; for a logged
	// permit it is Postfix's "action=... for ...=..." text.
	Log string
	// Restriction is the word that decided (or the parameter, such as
	// smtpd_helo_required, for checks that are not list entries).
	Restriction string
	// Permit reports a logged explicit permit.
	Permit bool
	// Prepend holds the header lines ("Name: value") that PREPEND actions
	// asked for, in order and without repeats, when the stage passes.
	Prepend []string
	// Hold and Discard are set when a HOLD or DISCARD action applies to
	// the message, to the reason to log ("<name>: <class> triggers HOLD
	// action" or the table's text), when the stage passes.
	Hold, Discard string
	// Filter is the transport:destination of the last FILTER action, and
	// FilterLog its reason to log ("<name>: <class> triggers FILTER
	// ..."), when the stage passes.
	Filter, FilterLog string
	// Redirect is the address of the last REDIRECT action, and
	// RedirectLog its reason to log, when the stage passes.
	Redirect, RedirectLog string
}

// Rejected reports whether r carries a reject or defer reply.
func (r Result) Rejected() bool { return !r.Reply.IsZero() }

// Checker holds the parsed restriction lists of one smtpd service. It is
// immutable after New and safe for concurrent use.
type Checker struct {
	set     settings
	deps    Deps
	lists   [numLists]*list
	classes map[string]*list
	tables  map[string]maps.Map
	warns   []string
}

// New parses the restriction parameters of cfg and opens the access
// tables they name. An unknown restriction, a missing or bad argument, a
// restriction whose dependency is nil and a relay policy without any
// rejecting restriction are errors naming the parameter and the word.
func New(cfg *config.Config, deps Deps) (*Checker, error) {
	set, err := readSettings(cfg)
	if err != nil {
		return nil, err
	}
	c := &Checker{set: set, deps: deps, classes: map[string]*list{}, tables: map[string]maps.Map{}}
	if err := c.compile(cfg); err != nil {
		c.Close()
		return nil, err
	}
	if deps.KnownRecipient == nil && (set.rejectUnlistedRcpt || set.rejectUnlistedSender) {
		c.warns = append(c.warns, "smtpd_reject_unlisted_recipient/sender is set but no recipient lookup was given: the implicit check is disabled")
	}
	return c, nil
}

// Warnings returns configuration problems found by New that are not
// errors, e.g. an implicit check that cannot run without a dependency.
func (c *Checker) Warnings() []string { return append([]string(nil), c.warns...) }

// Close closes the access tables opened by New.
func (c *Checker) Close() error {
	var first error
	for _, m := range c.tables {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	c.tables = map[string]maps.Map{}
	return first
}

// Check evaluates what Postfix evaluates at stage, honouring
// smtpd_delay_reject: with yes (the default) the client, HELO and sender
// restrictions are evaluated at Rcpt, and their rejections are reported
// there; with no they are evaluated at their own stage. Check keeps no
// state between calls; with smtpd_delay_reject = no a defer_if_permit
// raised before RCPT is remembered only by a Session.
func (c *Checker) Check(ctx context.Context, stage Stage, f Facts) Result {
	var carry carried
	return c.check(ctx, stage, f, &carry)
}

// Session carries what Postfix remembers between the stages of one SMTP
// session: a defer_if_permit raised by the client, HELO or sender
// restrictions before RCPT. A Session is not safe for concurrent use.
type Session struct {
	c     *Checker
	carry carried
}

// NewSession starts the state of one SMTP session.
func (c *Checker) NewSession() *Session { return &Session{c: c} }

// Check is Checker.Check that also remembers deferred decisions.
func (s *Session) Check(ctx context.Context, stage Stage, f Facts) Result {
	return s.c.check(ctx, stage, f, &s.carry)
}

// carried holds the defer_if_permit state after each early stage.
type carried struct {
	client, helo, sender *pending
}

func (c *Checker) check(ctx context.Context, stage Stage, f Facts, carry *carried) Result {
	e := c.newEval(ctx, stage, f)
	switch stage {
	case Connect:
		if !c.set.delayReject {
			e.checkClient()
			carry.client, carry.helo, carry.sender = e.deferPermit, e.deferPermit, e.deferPermit
		}
	case Helo:
		if !c.set.delayReject && e.hasHelo {
			e.deferPermit = carry.client
			e.checkHelo()
			carry.helo, carry.sender = e.deferPermit, e.deferPermit
		}
	case Mail:
		if c.set.heloRequired && f.Helo == "" {
			return Result{Reply: reply.New(reply.CodeBadSequence, "5.5.1", "Error: send HELO/EHLO first"),
				Log: "send HELO/EHLO first", Restriction: "smtpd_helo_required"}
		}
		if !c.set.delayReject {
			e.deferPermit = carry.helo
			e.checkMail()
			carry.sender = e.deferPermit
		}
	case Rcpt:
		if !c.set.delayReject {
			e.deferPermit = carry.sender
		}
		e.checkRcpt()
	case Data, EndOfData:
		e.checkData()
	case Etrn:
		e.checkEtrn()
	}
	return e.result()
}
