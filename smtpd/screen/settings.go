// Package screen is tern's postscreen(8): the tests that a client of a
// master.cf postscreen entry goes through before smtpd greets it. They
// are Postfix's tests before the SMTP handshake: the permanent access
// list (postscreen_access_list), the DNS blocklist score
// (postscreen_dnsbl_sites) and the pregreet test (a client that talks
// before its turn). A client that passes is remembered, so that it is
// not tested again until a result expires.
//
// Postfix's postscreen is one process that hands each client it lets
// through to an smtpd process. tern's smtpd serves every client in one
// process, so it runs these tests itself, before it takes a session slot;
// a client it lets through goes straight on to the SMTP session. The
// deep protocol tests after the greeting (pipelining, non-SMTP command,
// bare newline) run in the session itself (deep.go).
package screen

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/netlist"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// Action is what happens to a client that fails a test.
type Action int

// The actions, as postscreen(8) names them.
const (
	// Ignore logs the failure and goes on; the test is repeated next time.
	Ignore Action = iota
	// Enforce lets the session go on, but every RCPT gets the test's 550
	// reply, so that what the client tries to send is logged.
	Enforce
	// Drop replies 521 and closes the connection at once.
	Drop
)

// parseAction reads an action setting; "continue" is Postfix's old name
// for ignore.
func parseAction(name, v string) (Action, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "ignore", "continue":
		return Ignore, nil
	case "enforce":
		return Enforce, nil
	case "drop":
		return Drop, nil
	}
	return 0, fmt.Errorf("bad %s value: %q (need ignore, enforce or drop)", name, v)
}

// Settings are the postscreen_* parameters that tern honours.
type Settings struct {
	// Access is postscreen_access_list: permit_mynetworks and tables
	// whose values are permit, reject or dunno, keyed by client address.
	Access     []accessItem
	MyNetworks *netlist.List // what permit_mynetworks matches
	DenyAction Action        // postscreen_denylist_action

	Sites           []dnsSite // postscreen_dnsbl_sites
	Threshold       int       // postscreen_dnsbl_threshold
	AllowThreshold  int       // postscreen_dnsbl_allowlist_threshold (used when < 0)
	DNSBLAction     Action    // postscreen_dnsbl_action
	DNSBLTimeout    time.Duration
	DNSBLTTL        time.Duration // postscreen_dnsbl_min_ttl: how long a pass counts
	DNSBLReplyNames maps.Map      // postscreen_dnsbl_reply_map; nil: none

	// Banner is postscreen_greet_banner; "" turns the pregreet test off.
	Banner      string
	GreetAction Action        // postscreen_greet_action
	GreetTTL    time.Duration // postscreen_greet_ttl

	// NoCache: postscreen_cache_map is empty, so no client is
	// remembered and every one is tested at each connection.
	NoCache bool

	PreQueueLimit  int // postscreen_pre_queue_limit: clients under test
	PostQueueLimit int // postscreen_post_queue_limit: clients waiting for a session slot
	// ConnLimit is postscreen_client_connection_count_limit (0: none).
	ConnLimit int
	// Respectful is respectful_logging: ALLOWLISTED and DENYLISTED in
	// the log rather than WHITELISTED and BLACKLISTED.
	Respectful bool

	// Deep holds the tests after the greeting (deep.go), each
	// postscreen_<test>_enable, _action and _ttl.
	Deep [deepTests]deepSetting
}

// deepSetting is one deep protocol test's settings.
type deepSetting struct {
	enable bool
	action Action
	ttl    time.Duration
}

// accessItem is one element of postscreen_access_list.
type accessItem struct {
	mynetworks bool
	table      maps.Map
}

// dnsSite is a parsed postscreen_dnsbl_sites entry: a DNS list,
// optionally an address pattern its answers must match, and the weight a
// listing adds to the client's score (negative for an allowlist).
type dnsSite struct {
	spec   string // zone and pattern, as written: the reply map's key
	zone   string
	listed func(netip.Addr) bool
	weight int
}

// Load reads the settings from cfg (with the service's -o overrides).
// mynetworks is what permit_mynetworks matches. postscreen_greet_wait
// is not among them: it follows stress, and the caller passes it to
// Check.
func Load(cfg *config.Config, mynetworks *netlist.List, opt maps.Options) (*Settings, error) {
	set := &Settings{
		MyNetworks:     mynetworks,
		Banner:         cfg.Get("postscreen_greet_banner"),
		GreetTTL:       cfg.Duration("postscreen_greet_ttl"),
		DNSBLTimeout:   cfg.Duration("postscreen_dnsbl_timeout"),
		DNSBLTTL:       cfg.Duration("postscreen_dnsbl_min_ttl"),
		Threshold:      cfg.Int("postscreen_dnsbl_threshold"),
		AllowThreshold: cfg.Int("postscreen_dnsbl_allowlist_threshold"),
		PreQueueLimit:  cfg.Int("postscreen_pre_queue_limit"),
		PostQueueLimit: cfg.Int("postscreen_post_queue_limit"),
		ConnLimit:      cfg.Int("postscreen_client_connection_count_limit"),
		Respectful:     cfg.Bool("respectful_logging"),
		NoCache:        strings.TrimSpace(cfg.Get("postscreen_cache_map")) == "",
	}
	if max := cfg.Duration("postscreen_dnsbl_max_ttl"); max > 0 && set.DNSBLTTL > max {
		set.DNSBLTTL = max
	}
	var err error
	for _, a := range []struct {
		dst  *Action
		name string
	}{
		{&set.DenyAction, "postscreen_denylist_action"},
		{&set.DNSBLAction, "postscreen_dnsbl_action"},
		{&set.GreetAction, "postscreen_greet_action"},
	} {
		if *a.dst, err = parseAction(a.name, cfg.Get(a.name)); err != nil {
			return nil, err
		}
	}
	for t := range deepTests {
		name := "postscreen_" + deepNames[t]
		d := &set.Deep[t]
		d.enable, d.ttl = cfg.Bool(name+"_enable"), cfg.Duration(name+"_ttl")
		if d.action, err = parseAction(name+"_action", cfg.Get(name+"_action")); err != nil {
			return nil, err
		}
	}
	if set.Access, err = parseAccess(cfg.List("postscreen_access_list"), opt); err != nil {
		return nil, err
	}
	for _, s := range cfg.List("postscreen_dnsbl_sites") {
		site, err := parseSite(s)
		if err != nil {
			return nil, fmt.Errorf("postscreen_dnsbl_sites: %w", err)
		}
		set.Sites = append(set.Sites, site)
	}
	if v := cfg.Get("postscreen_dnsbl_reply_map"); v != "" {
		if set.DNSBLReplyNames, err = maps.Open(v, opt); err != nil {
			return nil, fmt.Errorf("postscreen_dnsbl_reply_map: %w", err)
		}
	}
	return set, nil
}

// parseAccess parses postscreen_access_list.
func parseAccess(elems []string, opt maps.Options) ([]accessItem, error) {
	var items []accessItem
	for _, e := range elems {
		if strings.EqualFold(e, "permit_mynetworks") {
			items = append(items, accessItem{mynetworks: true})
			continue
		}
		if !strings.Contains(e, ":") {
			return nil, fmt.Errorf("postscreen_access_list: unknown element %q (need permit_mynetworks or type:table)", e)
		}
		m, err := maps.Open(e, opt)
		if err != nil {
			return nil, fmt.Errorf("postscreen_access_list: %w", err)
		}
		items = append(items, accessItem{table: m})
	}
	return items, nil
}

// parseSite parses "zone[=pattern][*weight]".
func parseSite(s string) (dnsSite, error) {
	spec, weight := s, 1
	if i := strings.LastIndexByte(s, '*'); i >= 0 {
		w, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return dnsSite{}, fmt.Errorf("bad weight in %q", s)
		}
		spec, weight = s[:i], w
	}
	zone, listed, err := restrict.ParseDNSListSpec(spec)
	if err != nil {
		return dnsSite{}, err
	}
	return dnsSite{spec: spec, zone: zone, listed: listed, weight: weight}, nil
}

// Close releases the tables the settings opened.
func (set *Settings) Close() {
	for _, a := range set.Access {
		if a.table != nil {
			_ = a.table.Close()
		}
	}
	if set.DNSBLReplyNames != nil {
		_ = set.DNSBLReplyNames.Close()
	}
}
