package config

// compatParams are Postfix parameters that tern knows only so that a
// main.cf copied from Postfix (or the output of postconf -n) parses
// without "unknown parameter" warnings: their defaults are Postfix's and
// tern behaves as with them. A setting other than the default has no
// effect and draws the "not supported" warning with its file and line
// (compatText says why, where the reason is not "not yet").
var compatParams = []Param{
	// Internal service names: tern's daemons find each other under the
	// fixed names of its own master.cf.
	{"bounce_service_name", "bounce", typeString, "Name of Postfix's bounce service; tern's queue manager writes bounces itself."},
	{"cleanup_service_name", "cleanup", typeString, "Name of the cleanup service; tern's is always cleanup."},
	{"defer_service_name", "defer", typeString, "Name of Postfix's defer service; tern's queue manager handles deferrals itself."},
	{"error_service_name", "error", typeString, "Name of the error delivery service; tern's is always error."},
	{"flush_service_name", "flush", typeString, "Name of Postfix's flush service; tern's queue manager serves ETRN and flush itself."},
	{"pickup_service_name", "pickup", typeString, "Name of the pickup service; tern's is always pickup."},
	{"queue_service_name", "qmgr", typeString, "Name of the queue manager service; tern's is always qmgr."},
	{"rewrite_service_name", "rewrite", typeString, "Name of Postfix's trivial-rewrite service; tern's daemons rewrite addresses themselves."},
	{"showq_service_name", "showq", typeString, "Name of the showq service; tern's is always showq."},
	{"trace_service_name", "trace", typeString, "Name of Postfix's trace service; tern's queue manager writes trace reports itself."},
	{"tlsmgr_service_name", "tlsmgr", typeString, "Name of Postfix's tlsmgr service; tern has none."},
	{"proxymap_service_name", "proxymap", typeString, "Name of Postfix's proxymap service; tern has none."},
	{"proxywrite_service_name", "proxywrite", typeString, "Name of Postfix's proxywrite service; tern has none."},
	{"postlog_service_name", "postlog", typeString, "Name of Postfix's postlog service; tern's daemons write maillog_file themselves."},
	{"dnsblog_service_name", "dnsblog", typeString, "Name of Postfix's dnsblog service; tern has none."},
	{"tlsproxy_service_name", "tlsproxy", typeString, "Name of Postfix's tlsproxy service; tern has none."},
	{"connection_cache_service_name", "scache", typeString, "Name of Postfix's scache service; tern's smtp keeps its connections itself."},
	// Knobs of Postfix's implementation that tern's has no counterpart for.
	{"sample_directory", "/etc/postfix", typeString, "Obsolete Postfix location of sample files; unused."},
	{"hash_queue_depth", "1", typeInt, "Postfix queue directory hashing; tern's queue is one database."},
	{"hash_queue_names", "deferred, defer", typeList, "Postfix queue directories that are hashed; tern's queue is one database."},
	{"berkeley_db_create_buffer_size", "16777216", typeInt, "Berkeley DB buffer when Postfix builds a table; tern's tables are not Berkeley DB."},
	{"berkeley_db_read_buffer_size", "131072", typeInt, "Berkeley DB buffer when Postfix reads a table; tern's tables are not Berkeley DB."},
	{"lmdb_map_size", "16777216", typeInt, "Initial size of Postfix's LMDB tables; tern has no lmdb: tables."},
	{"fork_attempts", "5", typeInt, "How often Postfix retries a failed fork; tern's daemons are few and long-lived."},
	{"fork_delay", "1s", typeTimeS, "Delay between Postfix's fork attempts."},
	{"openssl_path", "openssl", typeString, "The openssl command of Postfix's tools; tern uses Go's TLS."},
	{"sun_mailtool_compatibility", "no", typeBool, "Obsolete Postfix switch for Sun's mailtool mailbox locking."},
	{"tcp_windowsize", "0", typeInt, "Postfix's TCP window override for broken networks; tern leaves the window to the kernel."},
	{"backwards_bounce_logfile_compatibility", "yes", typeBool, "Format of Postfix's bounce logfiles; tern keeps delivery status in its queue."},
	{"dont_remove", "0", typeInt, "Postfix debugging: keep queue files after delivery."},
	{"qmgr_fudge_factor", "100", typeInt, "Postfix's queue manager: how much of one message's recipients it reads at a time; tern's queue manager schedules from its database."},
	{"qmgr_clog_warn_time", "300s", typeTimeS, "How often Postfix's queue manager warns that the active queue is full; tern's has no such queue."},
	{"qmgr_daemon_timeout", "1000s", typeTimeS, "Postfix's queue manager watchdog; tern's master supervises its daemons itself."},
	{"qmgr_ipc_timeout", "60s", typeTimeS, "Postfix's queue manager IPC time limit."},
	{"ipc_ttl", "1000s", typeTimeS, "How long a Postfix daemon keeps an internal connection; tern's use ipc_idle."},
	{"destination_concurrency_feedback_debug", "no", typeBool, "Debug logging of Postfix's concurrency feedback."},
	{"postlogd_watchdog_timeout", "10s", typeTimeS, "Watchdog of Postfix's postlogd; tern has no postlogd."},
	{"application_event_drain_time", "100s", typeTimeS, "How long Postfix's daemons wait for their clients when stopping; tern's stop grace period is its own."},
	{"anvil_status_update_time", "600s", typeTimeS, "How often Postfix's anvil logs its peaks; tern's smtpd keeps its client counts itself and logs none."},
	{"address_verify_pending_request_limit", "5000", typeInt, "Postfix's verify service: pending probes; tern's queue manager bounds its probes itself."},
	{"dnsblog_reply_delay", "0s", typeTimeS, "Postfix debugging delay of dnsblog replies."},
	{"fast_flush_purge_time", "7d", typeTimeD, "How long Postfix's flush service keeps an unused per-site log; tern flushes from its queue database."},
	{"fast_flush_refresh_time", "12h", typeTimeH, "How often Postfix's flush service rebuilds a per-site log; tern flushes from its queue database."},
	{"connection_cache_protocol_timeout", "5s", typeTimeS, "Postfix's scache protocol time limit; tern's smtp keeps its connections itself."},
	{"connection_cache_status_update_time", "600s", typeTimeS, "How often Postfix's scache logs its statistics."},
	{"connection_cache_ttl_limit", "2s", typeTimeS, "Upper bound of Postfix's scache connection lifetime; tern's is smtp_connection_cache_time_limit."},
	{"known_tcp_ports", "lmtp=24, smtp=25, smtps=submissions=465, submission=587", typeList, "Postfix's own table of master.cf service names and ports; tern asks the system's services database, with these same ports as its fallback."},
	{"dns_ncache_ttl_fix_enable", "no", typeBool, "Postfix's workaround for negative-cache TTLs in DNS replies."},
	{"dnssec_probe", "ns:.", typeString, "The query Postfix sends at start to see whether its resolver validates DNSSEC."},
	{"info_log_address_format", "external", typeString, "Form of addresses in Postfix's informational logs: tern logs them in the external form (quoted as in SMTP), internal is not supported."},
	{"helpful_warnings", "yes", typeBool, "Postfix's suggestions about problematic settings; tern always gives its warnings."},
	{"frozen_delivered_to", "yes", typeBool, "local(8) writes Delivered-To with the address the delivery started with, not the ones alias and .forward expansion reach."},
	{"respectful_logging", "${{$compatibility_level} <level {3.6} ? {no} : {yes}}", typeBool, "Postfix logs allowlist and denylist instead of whitelist and blacklist; tern's log lines use neither word."},
	{"enable_threaded_bounces", "no", typeBool, "Thread Postfix's bounces to the original message with In-Reply-To and References; tern's bounces are not threaded."},
	// OpenSSL's knobs: tern's TLS is Go's, which seeds itself from the
	// kernel and has no OpenSSL configuration or bug workarounds.
	{"tls_random_bytes", "32", typeInt, "Random bytes Postfix's tlsmgr gives its clients; Go's TLS takes them from the kernel."},
	{"tls_random_exchange_name", "${data_directory}/prng_exch", typeString, "Postfix's PRNG exchange file; Go's TLS takes randomness from the kernel."},
	{"tls_random_prng_update_period", "3600s", typeTimeS, "How often Postfix saves its PRNG state; unused by Go's TLS."},
	{"tls_random_reseed_period", "3600s", typeTimeS, "How often Postfix reseeds its PRNG; unused by Go's TLS."},
	{"tls_daemon_random_bytes", "32", typeInt, "Random bytes a Postfix daemon asks tlsmgr for; unused by Go's TLS."},
	{"tls_disable_workarounds", "", typeList, "OpenSSL bug workarounds to turn off; Go's TLS has none."},
	{"tls_config_file", "default", typeString, "OpenSSL configuration file Postfix loads; Go's TLS reads none."},
	{"tls_config_name", "", typeString, "Application name in the OpenSSL configuration; Go's TLS reads none."},
	{"tls_fast_shutdown_enable", "yes", typeBool, "OpenSSL's shutdown without waiting for the peer's close_notify, which is how Go's TLS closes."},
	{"tls_session_ticket_cipher", "aes-256-cbc", typeString, "Cipher of Postfix's TLS session tickets; Go's TLS chooses its own."},
	{"smtpd_tls_always_issue_session_ids", "yes", typeBool, "Postfix's smtpd issues TLS session ids without a session cache; Go's TLS resumes with tickets."},
	{"smtpd_tls_ccert_verifydepth", "9", typeInt, "Longest client certificate chain Postfix's smtpd verifies; Go's TLS verifies chains of any length up to a trusted root."},
	{"smtp_tls_scert_verifydepth", "9", typeInt, "Longest server certificate chain Postfix's smtp verifies; Go's TLS verifies chains of any length up to a trusted root."},
	{"lmtp_tls_scert_verifydepth", "9", typeInt, "LMTP form of smtp_tls_scert_verifydepth."},
	{"tls_dane_digests", "sha512 sha256", typeList, "Digests of DANE TLSA records Postfix accepts; tern's DANE accepts exactly these."},
	{"send_cyrus_sasl_authzid", "no", typeBool, "Postfix's smtp client sends the login as SASL authorization id too; tern's client sends none."},
	// Workarounds for firewalls of the 1990s.
	{"smtp_pix_workarounds", "disable_esmtp,delay_dotcrlf", typeList, "Workarounds for Cisco PIX firewalls, which tern's client does not apply."},
	{"smtp_pix_workaround_maps", "", typeMapList, "Per-server Cisco PIX workarounds, which tern's client does not apply."},
	{"smtp_pix_workaround_delay_time", "10s", typeTimeS, "Cisco PIX workaround delay, not applied by tern."},
	{"smtp_pix_workaround_threshold_time", "500s", typeTimeS, "Cisco PIX workaround threshold, not applied by tern."},
	{"lmtp_pix_workarounds", "disable_esmtp,delay_dotcrlf", typeList, "LMTP form of smtp_pix_workarounds."},
	{"lmtp_pix_workaround_maps", "", typeMapList, "LMTP form of smtp_pix_workaround_maps."},
	{"lmtp_pix_workaround_delay_time", "10s", typeTimeS, "LMTP form of smtp_pix_workaround_delay_time."},
	{"lmtp_pix_workaround_threshold_time", "500s", typeTimeS, "LMTP form of smtp_pix_workaround_threshold_time."},
	// Connection and session caching: tern's smtp keeps them itself.
	{"smtp_connection_cache_on_demand", "yes", typeBool, "Postfix's smtp caches connections to a destination with mail waiting; tern's keeps every idle connection for smtp_connection_cache_time_limit, which is what that does."},
	{"smtp_connection_cache_destinations", "", typeMapList, "Destinations whose connections Postfix caches permanently; tern's smtp caches every destination on demand."},
	{"lmtp_connection_cache_on_demand", "yes", typeBool, "LMTP form of smtp_connection_cache_on_demand."},
	{"lmtp_connection_cache_destinations", "", typeMapList, "LMTP form of smtp_connection_cache_destinations."},
	{"smtp_tls_session_cache_timeout", "3600s", typeTimeS, "How long Postfix's smtp keeps a TLS session for resumption; tern's client keeps them in memory (with smtp_tls_session_cache_database set) for as long as the server's session ticket allows."},
	{"lmtp_tls_session_cache_timeout", "3600s", typeTimeS, "LMTP form of smtp_tls_session_cache_timeout."},
	// Client SASL: tern's smtp client has its own SASL, Postfix's Cyrus
	// is the only type it has.
	{"smtp_sasl_type", "cyrus", typeString, "SASL implementation of Postfix's smtp client (only cyrus); tern's client has its own PLAIN, LOGIN and CRAM-MD5."},
	{"smtp_sasl_path", "", typeString, "Cyrus SASL configuration of Postfix's smtp client; tern's client needs none."},
	{"lmtp_sasl_type", "cyrus", typeString, "LMTP form of smtp_sasl_type."},
	{"lmtp_sasl_path", "", typeString, "LMTP form of smtp_sasl_path."},
	// Postfix's queue manager scheduling knobs: tern's takes the
	// destinations with waiting mail in turn, without preemption.
	{"default_delivery_slot_cost", "5", typeInt, "Tunes the preemption of Postfix's queue manager; tern's has none: the destinations with waiting mail take turns, one delivery each."},
	{"default_delivery_slot_discount", "50", typeInt, "Tunes the preemption of Postfix's queue manager; tern's has none."},
	{"default_delivery_slot_loan", "3", typeInt, "Tunes the preemption of Postfix's queue manager; tern's has none."},
	{"default_minimum_delivery_slots", "3", typeInt, "Tunes the preemption of Postfix's queue manager; tern's has none."},
	{"default_recipient_refill_limit", "100", typeInt, "Postfix's queue manager reads a message's recipients in slices of this size; tern's reads all of them at once."},
	{"default_recipient_refill_delay", "5s", typeTimeS, "Postfix's wait before reading the next slice of recipients; tern's queue manager reads all of them at once."},
	{"fault_injection_code", "0", typeInt, "Postfix's fault injection for its own tests; tern has none."},
	{"cyrus_sasl_config_path", "", typeString, "Search path of Postfix's Cyrus SASL configuration; tern has no Cyrus SASL: its smtpd uses Dovecot or tern_sasl_password_maps, its client its own PLAIN, LOGIN and CRAM-MD5."},
	// Client knobs whose Postfix defaults are what tern's client does.
	{"smtp_address_verify_target", "rcpt", typeString, "Where Postfix's address verification probes stop (rcpt or data); tern's stop after RCPT."},
	{"lmtp_address_verify_target", "rcpt", typeString, "LMTP form of smtp_address_verify_target."},
	{"smtp_send_dummy_mail_auth", "no", typeBool, "Postfix can send AUTH=<> in MAIL FROM for servers that need it; tern's client never adds an AUTH parameter."},
	{"lmtp_send_dummy_mail_auth", "no", typeBool, "LMTP form of smtp_send_dummy_mail_auth."},
	{"smtp_sasl_auth_cache_name", "", typeString, "Table where Postfix's smtp remembers failed SASL logins per server; tern's client keeps no such cache and tries the login each time."},
	{"smtp_sasl_auth_cache_time", "90d", typeTimeD, "Lifetime of smtp_sasl_auth_cache_name entries; tern keeps no such cache."},
	{"lmtp_sasl_auth_cache_name", "", typeString, "LMTP form of smtp_sasl_auth_cache_name."},
	{"lmtp_sasl_auth_cache_time", "90d", typeTimeD, "LMTP form of smtp_sasl_auth_cache_time."},
	{"smtp_dns_resolver_options", "", typeString, "Resolver options (res_defnames, res_dnsrch) of Postfix's smtp; tern's resolver looks names up as they are."},
	{"lmtp_dns_resolver_options", "", typeString, "LMTP form of smtp_dns_resolver_options."},
	{"smtp_dns_reply_filter", "", typeMapList, "Table that edits the DNS replies Postfix's smtp gets; tern's client uses them as they come."},
	{"lmtp_dns_reply_filter", "", typeMapList, "LMTP form of smtp_dns_reply_filter."},
	{"smtpd_dns_reply_filter", "", typeMapList, "Table that edits the DNS replies Postfix's smtpd gets; tern's smtpd uses them as they come."},
	{"smtp_reply_filter", "", typeMapList, "Table that rewrites the replies of remote servers before Postfix's smtp reads them; tern's client reads them as they come."},
	{"lmtp_reply_filter", "", typeMapList, "LMTP form of smtp_reply_filter."},
	{"smtp_tls_trust_anchor_file", "", typeList, "Trust anchor files of Postfix's smtp for the verify and secure levels; tern verifies servers against smtp_tls_CAfile, smtp_tls_CApath and the system's roots."},
	{"lmtp_tls_trust_anchor_file", "", typeList, "LMTP form of smtp_tls_trust_anchor_file."},
}

// compatDoc returns the description of a compatParams name; ok is false
// for other names.
func compatDoc(name string) (doc string, ok bool) {
	for _, p := range compatParams {
		if p.Name == name {
			return p.Doc, true
		}
	}
	return "", false
}
