package config

import "strings"

// lmtpParams are the lmtp_* forms of the smtp_* client parameters, with
// Postfix's defaults: the lmtp agent reads them where the smtp agent reads
// the smtp_* ones (through LMTPView, below), so that a Postfix main.cf that sets
// lmtp_tls_CAfile or lmtp_sasl_password_maps for a Dovecot LMTP server
// over TCP keeps working, and the smtp_* settings of the relay do not
// leak into LMTP.
var lmtpParams = []Param{
	{"lmtp_address_preference", "any", typeString, "LMTP form of smtp_address_preference."},
	{"lmtp_bind_address", "", typeString, "LMTP form of smtp_bind_address."},
	{"lmtp_bind_address6", "", typeString, "LMTP form of smtp_bind_address6."},
	{"lmtp_bind_address_enforce", "no", typeBool, "LMTP form of smtp_bind_address_enforce."},
	{"lmtp_body_checks", "", typeMapList, "LMTP form of smtp_body_checks."},
	{"lmtp_connection_cache_time_limit", "2s", typeTimeS, "LMTP form of smtp_connection_cache_time_limit."},
	{"lmtp_connection_reuse_count_limit", "0", typeInt, "LMTP form of smtp_connection_reuse_count_limit."},
	{"lmtp_tls_connection_reuse", "yes", typeBool, "LMTP form of smtp_tls_connection_reuse."},
	{"lmtp_connection_reuse_time_limit", "300s", typeTimeS, "LMTP form of smtp_connection_reuse_time_limit."},
	{"lmtp_data_done_timeout", "600s", typeTimeS, "LMTP form of smtp_data_done_timeout."},
	{"lmtp_data_init_timeout", "120s", typeTimeS, "LMTP form of smtp_data_init_timeout."},
	{"lmtp_data_xfer_timeout", "180s", typeTimeS, "LMTP form of smtp_data_xfer_timeout."},
	{"lmtp_defer_if_no_mx_address_found", "no", typeBool, "LMTP form of smtp_defer_if_no_mx_address_found."},
	{"lmtp_dns_support_level", "", typeString, "LMTP form of smtp_dns_support_level."},
	{"lmtp_discard_lhlo_keyword_address_maps", "", typeMapList, "LMTP form of smtp_discard_ehlo_keyword_address_maps."},
	{"lmtp_discard_lhlo_keywords", "", typeList, "LMTP form of smtp_discard_ehlo_keywords."},
	{"lmtp_enforce_tls", "no", typeBool, "LMTP form of smtp_enforce_tls."},
	{"lmtp_fallback_relay", "", typeList, "LMTP form of smtp_fallback_relay."},
	{"lmtp_generic_maps", "", typeMapList, "LMTP form of smtp_generic_maps."},
	{"lmtp_header_checks", "", typeMapList, "LMTP form of smtp_header_checks."},
	{"lmtp_host_lookup", "dns", typeList, "LMTP form of smtp_host_lookup."},
	{"lmtp_lhlo_timeout", "300s", typeTimeS, "LMTP form of smtp_helo_timeout."},
	{"lmtp_line_length_limit", "998", typeInt, "LMTP form of smtp_line_length_limit."},
	{"lmtp_mail_timeout", "300s", typeTimeS, "LMTP form of smtp_mail_timeout."},
	{"lmtp_mime_header_checks", "", typeMapList, "LMTP form of smtp_mime_header_checks."},
	{"lmtp_min_data_rate", "500", typeInt, "LMTP form of smtp_min_data_rate."},
	{"lmtp_balance_inet_protocols", "yes", typeBool, "LMTP form of smtp_balance_inet_protocols."},
	{"lmtp_mx_address_limit", "5", typeInt, "LMTP form of smtp_mx_address_limit."},
	{"lmtp_mx_session_limit", "2", typeInt, "LMTP form of smtp_mx_session_limit."},
	{"lmtp_nested_header_checks", "", typeMapList, "LMTP form of smtp_nested_header_checks."},
	{"lmtp_per_request_deadline", "no", typeBool, "LMTP form of smtp_per_request_deadline."},
	{"lmtp_quit_timeout", "300s", typeTimeS, "LMTP form of smtp_quit_timeout."},
	{"lmtp_randomize_addresses", "yes", typeBool, "LMTP form of smtp_randomize_addresses."},
	{"lmtp_rcpt_timeout", "300s", typeTimeS, "LMTP form of smtp_rcpt_timeout."},
	{"lmtp_rset_timeout", "20s", typeTimeS, "LMTP form of smtp_rset_timeout."},
	{"lmtp_sasl_auth_soft_bounce", "yes", typeBool, "LMTP form of smtp_sasl_auth_soft_bounce."},
	{"lmtp_sasl_mechanism_filter", "", typeList, "LMTP form of smtp_sasl_mechanism_filter."},
	{"lmtp_sasl_password_maps", "", typeMapList, "LMTP form of smtp_sasl_password_maps."},
	{"lmtp_sasl_security_options", "noplaintext, noanonymous", typeList, "LMTP form of smtp_sasl_security_options."},
	{"lmtp_sasl_tls_security_options", "$lmtp_sasl_security_options", typeList, "LMTP form of smtp_sasl_tls_security_options."},
	{"lmtp_sender_dependent_authentication", "no", typeBool, "LMTP form of smtp_sender_dependent_authentication."},
	{"lmtp_skip_5xx_greeting", "yes", typeBool, "LMTP form of smtp_skip_5xx_greeting."},
	{"lmtp_skip_quit_response", "no", typeBool, "LMTP form of smtp_skip_quit_response."},
	{"lmtp_starttls_timeout", "300s", typeTimeS, "LMTP form of smtp_starttls_timeout."},
	{"lmtp_tls_CAfile", "", typeString, "LMTP form of smtp_tls_CAfile."},
	{"lmtp_tls_CApath", "", typeString, "LMTP form of smtp_tls_CApath."},
	{"lmtp_tls_cert_file", "", typeString, "LMTP form of smtp_tls_cert_file."},
	{"lmtp_tls_chain_files", "", typeList, "LMTP form of smtp_tls_chain_files."},
	{"lmtp_tls_ciphers", "medium", typeString, "LMTP form of smtp_tls_ciphers."},
	{"lmtp_tls_exclude_ciphers", "", typeList, "LMTP form of smtp_tls_exclude_ciphers."},
	{"lmtp_tls_key_file", "$lmtp_tls_cert_file", typeString, "LMTP form of smtp_tls_key_file."},
	{"lmtp_tls_mandatory_ciphers", "medium", typeString, "LMTP form of smtp_tls_mandatory_ciphers."},
	{"lmtp_tls_mandatory_exclude_ciphers", "", typeList, "LMTP form of smtp_tls_mandatory_exclude_ciphers."},
	{"lmtp_tls_mandatory_protocols", ">=TLSv1", typeList, "LMTP form of smtp_tls_mandatory_protocols."},
	{"lmtp_tls_note_starttls_offer", "no", typeBool, "LMTP form of smtp_tls_note_starttls_offer."},
	{"lmtp_tls_eccert_file", "", typeString, "LMTP form of smtp_tls_eccert_file."},
	{"lmtp_tls_eckey_file", "$lmtp_tls_eccert_file", typeString, "LMTP form of smtp_tls_eckey_file."},
	{"lmtp_tls_policy_maps", "", typeMapList, "LMTP form of smtp_tls_policy_maps."},
	{"lmtp_tls_protocols", ">=TLSv1", typeList, "LMTP form of smtp_tls_protocols."},
	{"lmtp_tls_servername", "hostname", typeString, "LMTP form of smtp_tls_servername (tern's default, as for smtp; Postfix's is empty)."},
	{"lmtp_tls_session_cache_database", "", typeString, "LMTP form of smtp_tls_session_cache_database."},
	{"lmtp_tls_wrappermode", "no", typeBool, "LMTP form of smtp_tls_wrappermode."},
	{"lmtp_use_tls", "no", typeBool, "LMTP form of smtp_use_tls."},
}

// lmtpRenamed are the lmtp_* forms whose smtp_* names differ by more than
// the prefix (LHLO for EHLO).
var lmtpRenamed = map[string]string{
	"lmtp_lhlo_timeout":                      "smtp_helo_timeout",
	"lmtp_discard_lhlo_keywords":             "smtp_discard_ehlo_keywords",
	"lmtp_discard_lhlo_keyword_address_maps": "smtp_discard_ehlo_keyword_address_maps",
}

// LMTPView returns a copy of c for the lmtp agent: each smtp_* parameter
// that has an lmtp_* form holds that form's value (as set, or Postfix's
// default), so that the agent's code reads the smtp_* names for both.
func (c *Config) LMTPView() *Config {
	v := c.Clone()
	for _, p := range lmtpParams {
		smtp := "smtp_" + strings.TrimPrefix(p.Name, "lmtp_")
		if other, ok := lmtpRenamed[p.Name]; ok {
			smtp = other
		}
		raw, _ := c.Raw(p.Name)
		_ = v.Set(smtp, raw) // a bad value was reported when c was read
	}
	return v
}
