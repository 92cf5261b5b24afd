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
