package restrict

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/rewrite"
)

// tempfailAction is what a temporary DNS failure does
// (reject_tempfail_action and friends).
type tempfailAction int

const (
	tempfailDeferIfPermit tempfailAction = iota // remember, defer only if the request would pass
	tempfailDefer                               // defer at once
)

// settings are the parameters the engine reads from main.cf.
type settings struct {
	delayReject, heloRequired                     bool
	rejectCode, deferCode, relayCode              int
	unknownAddrCode, unknownClientCode            int
	unknownHostnameCode, nonFQDNCode, badNameCode int
	mapRejectCode, mapDeferCode, plaintextCode    int
	localRcptCode, virtAliasCode, virtMailboxCode int
	relayRcptCode, multiRcptCode                  int
	nullKey                                       string
	policyDefault, policyContext                  string // smtpd_policy_service_default_action, _policy_context
	rejectUnlistedRcpt, rejectUnlistedSender      bool
	showUnknownTable                              bool
	parentMatches                                 bool // smtpd_access_maps in parent_domain_matches_subdomains
	allowUntrustedRouting                         bool
	percentHack, swapBang, dequote, resolveNull   bool
	appendDotMydomain                             bool
	myorigin, mydomain, delimiters, doubleBounce  string
	// extensions splits address extensions as Postfix's split_addr.
	extensions                               *rewrite.Settings
	softBounce                               bool
	relayFirst                               bool
	unknownAddrTempfail, unknownHeloTempfail tempfailAction
	// unverified holds the reject_unverified_* codes, texts and actions:
	// [0] for senders, [1] for recipients.
	unverified       [2]unverifiedSettings
	permitLog        map[string]bool
	permitLogAll     bool
	rblCode          int      // maps_rbl_reject_code
	rblReply         string   // default_rbl_reply, unexpanded
	rblReplyMaps     []string // rbl_reply_maps
	relayClientCerts []string // relay_clientcerts
}

// missingDefaults are Postfix parameters that pkg/config does not list
// yet, with Postfix 3.7's defaults. A value set in main.cf still wins.
var missingDefaults = map[string]string{
	"parent_domain_matches_subdomains":          "debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps",
	"allow_untrusted_routing":                   "no",
	"show_user_unknown_table_name":              "yes",
	"reject_tempfail_action":                    "defer_if_permit",
	"unknown_address_tempfail_action":           "$reject_tempfail_action",
	"unknown_helo_hostname_tempfail_action":     "$reject_tempfail_action",
	"smtpd_relay_before_recipient_restrictions": "yes",
}

// param returns the expanded value of name, or Postfix's default for
// parameters that pkg/config does not know yet.
func param(cfg *config.Config, name string) string {
	if _, set := cfg.Raw(name); set {
		return cfg.Get(name)
	}
	if _, known := config.Lookup(name); known {
		return cfg.Get(name)
	}
	def := missingDefaults[name]
	if strings.HasPrefix(def, "$") {
		return param(cfg, def[1:])
	}
	return def
}

func paramBool(cfg *config.Config, name string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(param(cfg, name))) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("%s: bad boolean value %q", name, param(cfg, name))
}

// paramCode reads an SMTP reply code parameter, which must be 4xx or 5xx.
func paramCode(cfg *config.Config, name string) (int, error) {
	v := strings.TrimSpace(param(cfg, name))
	n, err := strconv.Atoi(v)
	if err != nil || n < 400 || n > 599 {
		return 0, fmt.Errorf("%s: bad SMTP reply code %q: need 4xx or 5xx", name, v)
	}
	return n, nil
}

func paramTempfail(cfg *config.Config, name string) (tempfailAction, error) {
	switch v := strings.TrimSpace(param(cfg, name)); strings.ToLower(v) {
	case "defer_if_permit":
		return tempfailDeferIfPermit, nil
	case "defer":
		return tempfailDefer, nil
	default:
		return 0, fmt.Errorf("%s: bad value %q: need defer_if_permit or defer", name, v)
	}
}

func readSettings(cfg *config.Config) (settings, error) {
	var s settings
	var err error
	bools := []struct {
		dst  *bool
		name string
	}{
		{&s.delayReject, "smtpd_delay_reject"}, {&s.heloRequired, "smtpd_helo_required"},
		{&s.rejectUnlistedRcpt, "smtpd_reject_unlisted_recipient"},
		{&s.rejectUnlistedSender, "smtpd_reject_unlisted_sender"},
		{&s.showUnknownTable, "show_user_unknown_table_name"},
		{&s.allowUntrustedRouting, "allow_untrusted_routing"},
		{&s.percentHack, "allow_percent_hack"}, {&s.swapBang, "swap_bangpath"},
		{&s.dequote, "resolve_dequoted_address"}, {&s.resolveNull, "resolve_null_domain"},
		{&s.appendDotMydomain, "append_dot_mydomain"}, {&s.softBounce, "soft_bounce"},
		{&s.relayFirst, "smtpd_relay_before_recipient_restrictions"},
	}
	for _, b := range bools {
		if *b.dst, err = paramBool(cfg, b.name); err != nil {
			return s, err
		}
	}
	codes := []struct {
		dst  *int
		name string
	}{
		{&s.rejectCode, "reject_code"}, {&s.deferCode, "defer_code"},
		{&s.relayCode, "relay_domains_reject_code"},
		{&s.unknownAddrCode, "unknown_address_reject_code"},
		{&s.unknownClientCode, "unknown_client_reject_code"},
		{&s.unknownHostnameCode, "unknown_hostname_reject_code"},
		{&s.nonFQDNCode, "non_fqdn_reject_code"},
		{&s.badNameCode, "invalid_hostname_reject_code"},
		{&s.mapRejectCode, "access_map_reject_code"},
		{&s.mapDeferCode, "access_map_defer_code"},
		{&s.plaintextCode, "plaintext_reject_code"},
		{&s.localRcptCode, "unknown_local_recipient_reject_code"},
		{&s.virtAliasCode, "unknown_virtual_alias_reject_code"},
		{&s.virtMailboxCode, "unknown_virtual_mailbox_reject_code"},
		{&s.relayRcptCode, "unknown_relay_recipient_reject_code"},
		{&s.multiRcptCode, "multi_recipient_bounce_reject_code"},
		{&s.rblCode, "maps_rbl_reject_code"},
	}
	for _, c := range codes {
		if *c.dst, err = paramCode(cfg, c.name); err != nil {
			return s, err
		}
	}
	if s.relayCode < 500 {
		return s, fmt.Errorf("relay_domains_reject_code: %d: need a 5xx code (defer_unauth_destination uses it minus 100)", s.relayCode)
	}
	if s.unknownAddrTempfail, err = paramTempfail(cfg, "unknown_address_tempfail_action"); err != nil {
		return s, err
	}
	if s.unknownHeloTempfail, err = paramTempfail(cfg, "unknown_helo_hostname_tempfail_action"); err != nil {
		return s, err
	}
	for i, who := range []string{"sender", "recipient"} {
		u := &s.unverified[i]
		if u.rejectCode, err = paramCode(cfg, "unverified_"+who+"_reject_code"); err != nil {
			return s, err
		}
		if u.deferCode, err = paramCode(cfg, "unverified_"+who+"_defer_code"); err != nil {
			return s, err
		}
		if u.tempfail, err = paramTempfail(cfg, "unverified_"+who+"_tempfail_action"); err != nil {
			return s, err
		}
		u.reason = param(cfg, "unverified_"+who+"_reject_reason")
	}
	s.nullKey = param(cfg, "smtpd_null_access_lookup_key")
	s.myorigin = strings.ToLower(strings.TrimSpace(param(cfg, "myorigin")))
	s.mydomain = strings.ToLower(strings.TrimSpace(param(cfg, "mydomain")))
	s.delimiters = param(cfg, "recipient_delimiter")
	s.doubleBounce = strings.ToLower(param(cfg, "double_bounce_sender"))
	s.extensions = &rewrite.Settings{RecipientDelimiter: s.delimiters, DoubleBounceSender: s.doubleBounce}
	for _, item := range splitWords(param(cfg, "parent_domain_matches_subdomains")) {
		if strings.EqualFold(item, "smtpd_access_maps") {
			s.parentMatches = true
		}
	}
	for _, o := range splitWords(param(cfg, "receive_override_options")) {
		if strings.EqualFold(o, "no_unknown_recipient_checks") {
			s.rejectUnlistedRcpt = false // the content filter's reinjection
		}
	}
	s.rblReply = param(cfg, "default_rbl_reply")
	s.rblReplyMaps = splitWords(param(cfg, "rbl_reply_maps"))
	s.relayClientCerts = splitWords(param(cfg, "relay_clientcerts"))
	s.policyDefault = param(cfg, "smtpd_policy_service_default_action")
	s.policyContext = param(cfg, "smtpd_policy_service_policy_context")
	s.permitLog = map[string]bool{}
	for _, item := range splitWords(param(cfg, "smtpd_log_access_permit_actions")) {
		if strings.EqualFold(item, "static:all") {
			s.permitLogAll = true
		} else {
			s.permitLog[strings.ToLower(item)] = true
		}
	}
	return s, nil
}

// unverifiedSettings are the parameters of reject_unverified_sender or
// reject_unverified_recipient.
type unverifiedSettings struct {
	rejectCode, deferCode int
	tempfail              tempfailAction
	reason                string // unverified_*_reject_reason; "" for the probe's own text
}
