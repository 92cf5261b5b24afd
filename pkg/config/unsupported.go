package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tern-mta/tern/pkg/tlsconf"
)

// unsupportedParams are Postfix parameters tern knows by name (so that a
// Postfix main.cf parses and "tern conf" shows them) but whose feature it
// does not have yet. Setting one to anything but its default draws a
// warning with the file and line, so that no setting is ignored silently.
var unsupportedParams = map[string]bool{
	// Known names that nothing in tern reads: a setting other than the
	// default would be ignored silently without this list.
	"debug_peer_level":                    true,
	"debugger_command":                    true,
	"default_extra_recipient_limit":       true,
	"default_recipient_limit":             true,
	"delay_logging_resolution_limit":      true,
	"detect_8bit_encoding_header":         true,
	"disable_mime_input_processing":       true,
	"header_address_token_limit":          true,
	"qmgr_message_recipient_limit":        true,
	"resolve_numeric_domain":              true,
	"smtpd_sasl_local_domain":             true,
	"transport_retry_time":                true,
	"multi_instance_directories":          true,
	"multi_instance_enable":               true,
	"multi_instance_group":                true,
	"multi_instance_name":                 true,
	"multi_instance_wrapper":              true,
	"proxy_read_maps":                     true,
	"proxy_write_maps":                    true,
	"address_verify_map":                  true,
	"address_verify_service_name":         true,
	"in_flow_delay":                       true,
	"milter_unknown_command_macros":       true,
	"sendmail_fix_line_endings":           true,
	"smtp_tls_ciphers":                    true,
	"smtp_tls_mandatory_ciphers":          true,
	"smtpd_tls_ciphers":                   true,
	"smtp_tls_exclude_ciphers":            true,
	"smtp_tls_mandatory_exclude_ciphers":  true,
	"smtpd_tls_dh1024_param_file":         true,
	"smtpd_tls_dh512_param_file":          true,
	"smtpd_tls_dcert_file":                true,
	"smtpd_tls_dkey_file":                 true,
	"smtp_tls_dcert_file":                 true,
	"smtp_tls_dkey_file":                  true,
	"smtpd_tls_eecdh_grade":               true,
	"smtpd_tls_exclude_ciphers":           true,
	"smtpd_tls_mandatory_ciphers":         true,
	"smtpd_tls_mandatory_exclude_ciphers": true,
	"tls_eecdh_auto_curves":               true,
	"tls_eecdh_strong_curve":              true,
	"tls_eecdh_ultra_curve":               true,
	"tls_export_cipherlist":               true,
	"tls_high_cipherlist":                 true,
	"tls_low_cipherlist":                  true,
	"tls_medium_cipherlist":               true,
	"tls_null_cipherlist":                 true,
	"tls_preempt_cipherlist":              true,
	"tls_ssl_options":                     true,
	"smtpd_delay_open_until_valid_rcpt":   true,
}

// partlySupported holds, for parameters of unsupportedParams that tern
// honours for some values, the test of a value: such a value draws no
// warning. The OpenSSL knobs of the widely copied hardened TLS settings
// are honoured where Go's TLS can do what they ask: explicit suite lists,
// exclusions, the high and medium grades, and options that are how Go
// behaves anyway.
var partlySupported = map[string]func(v string) bool{
	"smtpd_tls_ciphers":                   tlsconf.GradeUsable,
	"smtpd_tls_mandatory_ciphers":         tlsconf.GradeUsable,
	"smtp_tls_ciphers":                    tlsconf.GradeUsable,
	"smtp_tls_mandatory_ciphers":          tlsconf.GradeUsable,
	"tls_high_cipherlist":                 tlsconf.CipherListUsable,
	"tls_medium_cipherlist":               tlsconf.CipherListUsable,
	"smtpd_tls_exclude_ciphers":           tlsconf.ExclusionsUsable,
	"smtpd_tls_mandatory_exclude_ciphers": tlsconf.ExclusionsUsable,
	"smtp_tls_exclude_ciphers":            tlsconf.ExclusionsUsable,
	"smtp_tls_mandatory_exclude_ciphers":  tlsconf.ExclusionsUsable,
	"tls_ssl_options":                     tlsconf.SSLOptionsUsable,
	"tls_eecdh_auto_curves":               tlsconf.CurvesUsable,
	"tls_eecdh_strong_curve":              tlsconf.CurvesUsable,
	"tls_eecdh_ultra_curve":               tlsconf.CurvesUsable,
	"smtpd_tls_eecdh_grade": func(v string) bool {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "auto", "strong", "ultra":
			return true
		}
		return false
	},
	// An empty address_verify_map is Postfix's in-memory cache; a file
	// table is where qmgr keeps its cache.
	"address_verify_map": func(v string) bool { _, err := AddressVerifyMapFile(v); return err == nil },
	// Go's TLS server chooses the suite itself, as with preemption.
	"tls_preempt_cipherlist": func(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "yes") },
}

// AddressVerifyMapFile is the file where qmgr keeps address verification
// results for the address_verify_map setting spec (PATH.db for
// btree:PATH, hash:PATH or lmdb:PATH, as Postfix names its file; a
// proxy: prefix is dropped, as tern has no proxymap), or "" for an empty
// one, which keeps them in memory. Another table is an error.
func AddressVerifyMapFile(spec string) (string, error) {
	spec = strings.TrimPrefix(strings.TrimSpace(spec), "proxy:")
	if spec == "" {
		return "", nil
	}
	typ, path, ok := strings.Cut(spec, ":")
	switch {
	case !ok || (typ != "btree" && typ != "hash" && typ != "lmdb"):
		return "", fmt.Errorf("address_verify_map = %s: tern keeps the cache in a btree:, hash: or lmdb: file", spec)
	case !strings.HasPrefix(path, "/") && !strings.HasPrefix(path, "$"):
		return "", fmt.Errorf("address_verify_map = %s: the file must be given by an absolute path", spec)
	}
	return path + ".db", nil
}

// notNeeded holds, for unsupported parameters whose purpose tern's TLS
// serves otherwise, the text of their warning.
var notNeeded = map[string]string{
	"smtpd_tls_dh1024_param_file":       "smtpd_tls_dh1024_param_file is not used: tern's TLS has no DHE key exchange, only ECDHE and TLS 1.3",
	"smtpd_sasl_local_domain":           "smtpd_sasl_local_domain is not used: tern's SASL back ends (Dovecot, tern_sasl_password_maps) take the login name as the client gives it",
	"proxy_read_maps":                   "proxy_read_maps is not used: tern has no proxymap, its daemons open proxy: tables themselves",
	"proxy_write_maps":                  "proxy_write_maps is not used: tern has no proxymap, its daemons open proxy: tables themselves",
	"address_verify_map":                "address_verify_map: tern keeps address verification results in a btree:, hash: or lmdb: file given by an absolute path, or in memory when it is empty; with another table they are kept in memory",
	"debug_peer_level":                  "debug_peer_level is not used: tern logs the whole conversation of a debug_peer_list peer, whatever the level",
	"smtpd_delay_open_until_valid_rcpt": "smtpd_delay_open_until_valid_rcpt = no is not supported: tern's smtpd opens a queue transaction only after a recipient is accepted, and a rejected client is logged with NOQUEUE",
	// Settings of postscreen's own SMTP engine: tern's smtpd plays its
	// part, with its own settings.
	"postscreen_command_count_limit":    postscreenEngine("postscreen_command_count_limit", "smtpd_hard_error_limit and smtpd_junk_command_limit"),
	"postscreen_command_time_limit":     postscreenEngine("postscreen_command_time_limit", "smtpd_timeout"),
	"postscreen_watchdog_timeout":       postscreenEngine("postscreen_watchdog_timeout", "smtpd_timeout"),
	"postscreen_disable_vrfy_command":   postscreenEngine("postscreen_disable_vrfy_command", "disable_vrfy_command"),
	"postscreen_discard_ehlo_keywords":  postscreenEngine("postscreen_discard_ehlo_keywords", "smtpd_discard_ehlo_keywords"),
	"postscreen_enforce_tls":            postscreenEngine("postscreen_enforce_tls", "smtpd_tls_security_level"),
	"postscreen_use_tls":                postscreenEngine("postscreen_use_tls", "smtpd_tls_security_level"),
	"postscreen_tls_security_level":     postscreenEngine("postscreen_tls_security_level", "smtpd_tls_security_level"),
	"postscreen_helo_required":          postscreenEngine("postscreen_helo_required", "smtpd_helo_required"),
	"postscreen_command_filter":         postscreenEngine("postscreen_command_filter", "smtpd_command_filter"),
	"postscreen_reject_footer":          postscreenEngine("postscreen_reject_footer", "smtpd_reject_footer"),
	"postscreen_cache_cleanup_interval": "postscreen_cache_cleanup_interval is not used: tern drops expired postscreen cache entries when smtpd starts and when the cache is full",
}

// postscreenEngine is the warning text for name, a setting of
// postscreen's own SMTP engine, whose part tern's smtpd plays with its
// setting instead.
func postscreenEngine(name, instead string) string {
	return name + " has no effect in tern: smtpd plays the part of postscreen's SMTP engine, with " + instead
}

// unsupportedText is the warning for an unsupported setting of name.
func unsupportedText(name string) string {
	if t, ok := notNeeded[name]; ok {
		return t
	}
	if doc, ok := compatDoc(name); ok {
		return name + " has no effect in tern: " + doc
	}
	return name + " is not supported by tern yet: the setting has no effect"
}

// unsupportedValue reports whether setting name to v draws the "not
// supported" warning: name is unsupported, v is not its default, and v
// is not a value tern honours.
func (c *Config) unsupportedValue(name, v string) bool {
	p, known := Lookup(name)
	if !known || !Unsupported(name) {
		return false
	}
	def, _ := c.Expand(p.Default)
	if strings.TrimSpace(v) == strings.TrimSpace(def) {
		return false
	}
	ok := partlySupported[name]
	return ok == nil || !ok(v)
}

// Unsupported reports whether tern knows parameter name but not yet its
// feature, as the postscreen_* parameters of the tests tern does not do.
func Unsupported(name string) bool {
	if _, compat := compatDoc(name); compat || unsupportedParams[name] {
		return true
	}
	return strings.HasPrefix(name, postscreenPrefix) && !postscreenHonoured[name]
}

// postscreenHonoured are the postscreen_* parameters that smtpd honours
// when it serves a postscreen entry's address (smtpd/screen). The older
// names (postscreen_blacklist_action, ...) are honoured through the
// defaults of the new ones.
var postscreenHonoured = map[string]bool{
	"postscreen_upstream_proxy_protocol":       true,
	"postscreen_upstream_proxy_timeout":        true,
	"postscreen_access_list":                   true,
	"postscreen_denylist_action":               true,
	"postscreen_blacklist_action":              true,
	"postscreen_dnsbl_sites":                   true,
	"postscreen_dnsbl_threshold":               true,
	"postscreen_dnsbl_action":                  true,
	"postscreen_dnsbl_allowlist_threshold":     true,
	"postscreen_dnsbl_whitelist_threshold":     true,
	"postscreen_dnsbl_timeout":                 true,
	"postscreen_dnsbl_min_ttl":                 true,
	"postscreen_dnsbl_max_ttl":                 true,
	"postscreen_dnsbl_ttl":                     true,
	"postscreen_dnsbl_reply_map":               true,
	"postscreen_greet_action":                  true,
	"postscreen_greet_banner":                  true,
	"postscreen_greet_wait":                    true,
	"postscreen_greet_ttl":                     true,
	"postscreen_pre_queue_limit":               true,
	"postscreen_post_queue_limit":              true,
	"postscreen_client_connection_count_limit": true,
	"postscreen_cache_map":                     true,
	"postscreen_cache_retention_time":          true,
	// The deep protocol tests, which smtpd runs in the session with
	// smtpd_forbidden_commands as the non-SMTP commands.
	"postscreen_pipelining_enable":       true,
	"postscreen_pipelining_action":       true,
	"postscreen_pipelining_ttl":          true,
	"postscreen_non_smtp_command_enable": true,
	"postscreen_non_smtp_command_action": true,
	"postscreen_non_smtp_command_ttl":    true,
	"postscreen_forbidden_commands":      true,
	"postscreen_bare_newline_enable":     true,
	"postscreen_bare_newline_action":     true,
	"postscreen_bare_newline_ttl":        true,
}

// postscreenPrefix starts the names of postscreen(8)'s parameters, the
// current ones and the older names their defaults refer to.
const postscreenPrefix = "postscreen_"

// honouredWords lists, for list parameters of which tern honours only
// some words, those words; a setting with others draws a warning naming
// them. notify_classes: qmgr sends postmaster copies of bounces and delay
// warnings, and double bounces always; smtpd sends transcripts for
// protocol, policy, resource and software problems; Postfix's data class
// has no counterpart. smtputf8_autodetect_classes: tern has no QMQP
// server (notify is smtpd's postmaster notices, bounce the delivery
// status notifications, which also take the request of the message they
// are about).
var honouredWords = map[string][]string{
	"notify_classes":              {"bounce", "delay", "2bounce", "resource", "software", "protocol", "policy"},
	"smtputf8_autodetect_classes": {"sendmail", "smtpd", "forward", "notify", "bounce", "verify", "all"},
}

// unhonouredWords returns the words of name's value that tern does not
// honour, nil for other parameters.
func unhonouredWords(name string, words []string) []string {
	honoured, ok := honouredWords[name]
	if !ok {
		return nil
	}
	var out []string
	for _, w := range words {
		if !slices.Contains(honoured, strings.ToLower(w)) {
			out = append(out, w)
		}
	}
	return out
}

// crossWarning returns the warning for a setting that works only with
// another one that is missing, "" for none: the dane TLS levels need
// smtp_dns_support_level = dnssec (without it tern, as Postfix, uses may
// for dane and encrypt for dane-only).
func (c *Config) crossWarning(name string) string {
	if name != "smtp_tls_security_level" {
		return ""
	}
	level := strings.ToLower(strings.TrimSpace(c.Get(name)))
	fallback := map[string]string{"dane": "may", "dane-only": "encrypt"}[level]
	if fallback == "" || strings.EqualFold(strings.TrimSpace(c.Get("smtp_dns_support_level")), "dnssec") {
		return ""
	}
	return fmt.Sprintf("%s = %s needs smtp_dns_support_level = dnssec: using %s", name, level, fallback)
}
