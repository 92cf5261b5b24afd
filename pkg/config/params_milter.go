package config

// milterParams lists the parameters of the milter client (smtpd_milters
// and non_smtpd_milters; used by smtpd and qmgr).
var milterParams = []Param{
	{"milter_command_timeout", "30s", typeTimeS, "Time limit for one milter command."},
	{"milter_connect_timeout", "30s", typeTimeS, "Time limit for connecting to a milter."},
	{"milter_content_timeout", "300s", typeTimeS, "Time limit for sending message content to a milter."},
	{"milter_header_checks", "", typeMapList, "Tables applied to the header fields that smtpd_milters and non_smtpd_milters add or change (a spam milter's verdict), as header_checks are to the message's: DISCARD, FILTER, HOLD and REDIRECT, as in Postfix; other actions are warned about and ignored."},
	{"milter_default_action", "tempfail", typeString, "What to do when a milter fails: accept, reject, tempfail or quarantine."},
	{"milter_protocol", "6", typeString, "Milter protocol version."},
	{"milter_macro_daemon_name", "$myhostname", typeString, "The {daemon_name} macro milters get; OpenDKIM's \"MTA ORIGINATING\" signs mail from a service with -o milter_macro_daemon_name=ORIGINATING."},
	{"milter_macro_v", "$mail_name $mail_version", typeString, "The {v} macro milters get."},
	{"milter_connect_macros", "j {daemon_name} {daemon_addr} v _", typeList, "Macros sent to milters with the connection: names as j or {client_addr}, separated by space or comma; a milter may ask for its own list instead."},
	{"milter_helo_macros", "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}", typeList, "Macros sent to milters with HELO or EHLO."},
	{"milter_mail_macros", "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}", typeList, "Macros sent to milters with MAIL FROM."},
	{"milter_rcpt_macros", "i {rcpt_addr} {rcpt_host} {rcpt_mailer}", typeList, "Macros sent to milters with each RCPT TO."},
	{"milter_data_macros", "i", typeList, "Macros sent to milters with DATA."},
	{"milter_end_of_header_macros", "i", typeList, "Macros sent to milters at the end of the message header."},
	{"milter_end_of_data_macros", "i", typeList, "Macros sent to milters at the end of the message."},
	{"milter_unknown_command_macros", "", typeList, "Macros sent to milters with an unknown SMTP command (tern does not pass unknown commands to milters: a non-empty value draws a warning)."},
	{"milter_macro_defaults", "", typeString, "Values for macros that have none in the session: name=value or {name}=value pairs separated by space or comma, a pair with space in its value enclosed in { }."},
	{"non_smtpd_milters", "", typeList, "Milters applied to mail not received by smtpd."},
	{"smtpd_milter_maps", "", typeMapList, "Milters by client IP address, overriding smtpd_milters: a list in its syntax, or DISABLE for none."},
	{"smtpd_milters", "", typeList, "Milters applied to mail received by smtpd."},
}
