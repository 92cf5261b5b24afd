package config

// unsupportedParams are Postfix parameters tern knows by name (so that a
// Postfix main.cf parses and "tern conf" shows them) but whose feature it
// does not have yet. Setting one to anything but its default draws a
// warning with the file and line, so that no setting is ignored silently.
var unsupportedParams = map[string]bool{
	"address_verify_map":                      true,
	"always_bcc":                              true,
	"body_checks":                             true,
	"content_filter":                          true,
	"default_destination_rate_delay":          true,
	"defer_transports":                        true,
	"fallback_relay":                          true,
	"fallback_transport":                      true,
	"fallback_transport_maps":                 true,
	"header_checks":                           true,
	"luser_relay":                             true,
	"mailbox_command_maps":                    true,
	"mailbox_transport":                       true,
	"mailbox_transport_maps":                  true,
	"message_reject_characters":               true,
	"message_strip_characters":                true,
	"mime_header_checks":                      true,
	"nested_header_checks":                    true,
	"non_smtpd_milters":                       true,
	"queue_minfree":                           true,
	"receive_override_options":                true,
	"recipient_bcc_maps":                      true,
	"remote_header_rewrite_domain":            true,
	"sender_bcc_maps":                         true,
	"smtp_bind_address":                       true,
	"smtp_bind_address6":                      true,
	"smtp_fallback_relay":                     true,
	"smtp_generic_maps":                       true,
	"smtp_tls_cert_file":                      true,
	"smtp_tls_key_file":                       true,
	"smtpd_client_auth_rate_limit":            true,
	"smtpd_client_new_tls_session_rate_limit": true,
	"smtpd_client_recipient_rate_limit":       true,
	"smtpd_command_filter":                    true,
	"smtpd_milters":                           true,
	"smtpd_proxy_filter":                      true,
	"smtpd_reject_footer":                     true,
	"smtpd_sender_login_maps":                 true,
	"smtpd_tls_ask_ccert":                     true,
	"smtpd_tls_req_ccert":                     true,
}

// Unsupported reports whether tern knows parameter name but not yet its
// feature.
func Unsupported(name string) bool { return unsupportedParams[name] }
