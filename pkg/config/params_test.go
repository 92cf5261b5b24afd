package config

import (
	"strings"
	"testing"
)

// TestPostfixDefaults samples defaults against the values Postfix 3.7's
// "postconf -d" prints (tern's deliberate differences are listed apart).
func TestPostfixDefaults(t *testing.T) {
	postfix := map[string]string{
		"2bounce_notice_recipient":                  "postmaster",
		"alias_database":                            "hash:/etc/aliases",
		"alias_maps":                                "hash:/etc/aliases",
		"allow_mail_to_commands":                    "alias, forward",
		"allow_mail_to_files":                       "alias, forward",
		"append_at_myorigin":                        "yes",
		"append_dot_mydomain":                       "${{$compatibility_level} <level {1} ? {yes} : {no}}",
		"biff":                                      "yes",
		"bounce_notice_recipient":                   "postmaster",
		"bounce_queue_lifetime":                     "5d",
		"command_directory":                         "/usr/sbin",
		"command_time_limit":                        "1000s",
		"default_destination_concurrency_limit":     "20",
		"default_destination_recipient_limit":       "50",
		"default_privs":                             "nobody",
		"default_process_limit":                     "100",
		"default_transport":                         "smtp",
		"delay_warning_time":                        "0h",
		"double_bounce_sender":                      "double-bounce",
		"empty_address_recipient":                   "MAILER-DAEMON",
		"expand_owner_alias":                        "no",
		"forward_path":                              "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
		"header_size_limit":                         "102400",
		"home_mailbox":                              "",
		"hopcount_limit":                            "50",
		"inet_interfaces":                           "all",
		"inet_protocols":                            "all",
		"initial_destination_concurrency":           "5",
		"line_length_limit":                         "2048",
		"local_destination_concurrency_limit":       "2",
		"local_destination_recipient_limit":         "1",
		"local_recipient_maps":                      "proxy:unix:passwd.byname $alias_maps",
		"local_transport":                           "local:$myhostname",
		"mail_owner":                                "postfix",
		"mail_spool_directory":                      "/var/mail",
		"mailbox_command":                           "",
		"mailbox_delivery_lock":                     "fcntl, dotlock",
		"mailbox_size_limit":                        "51200000",
		"maximal_backoff_time":                      "4000s",
		"maximal_queue_lifetime":                    "5d",
		"message_size_limit":                        "10240000",
		"minimal_backoff_time":                      "300s",
		"mydestination":                             "$myhostname, localhost.$mydomain, localhost",
		"mynetworks_style":                          "${{$compatibility_level} <level {2} ? {subnet} : {host}}",
		"myorigin":                                  "$myhostname",
		"notify_classes":                            "resource, software",
		"owner_request_special":                     "yes",
		"qmgr_message_active_limit":                 "20000",
		"queue_run_delay":                           "300s",
		"recipient_delimiter":                       "",
		"relay_domains":                             "${{$compatibility_level} <level {2} ? {$mydestination} : {}}",
		"relayhost":                                 "",
		"setgid_group":                              "postdrop",
		"smtpd_relay_before_recipient_restrictions": "${{$compatibility_level} <level {3.6} ? {no} : {yes}}",
		"smtpd_tls_fingerprint_digest":              "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}",
		"smtp_tls_fingerprint_digest":               "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}",
		"lmtp_tls_fingerprint_digest":               "${{$compatibility_level} <level {3.6} ? {md5} : {sha256}}",
		"respectful_logging":                        "${{$compatibility_level} <level {3.6} ? {no} : {yes}}",
		"smtpd_banner":                              "$myhostname ESMTP $mail_name",
		"smtpd_relay_restrictions":                  "${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}",
		"smtpd_sasl_path":                           "smtpd",
		"smtpd_sasl_type":                           "cyrus",
		"smtpd_timeout":                             "${stress?{10}:{300}}s",
		"smtpd_tls_key_file":                        "$smtpd_tls_cert_file",
		"smtp_helo_name":                            "$myhostname",
		"smtputf8_enable":                           "${{$compatibility_level} <level {1} ? {no} : {yes}}",
		"syslog_facility":                           "mail",
		"virtual_alias_domains":                     "$virtual_alias_maps",
		"virtual_mailbox_domains":                   "$virtual_mailbox_maps",
		"virtual_transport":                         "virtual",
	}
	tern := map[string]string{
		"compatibility_level":       "3.6",
		"smtp_tls_connection_reuse": "yes",
		"mail_name":                 "tern",
		"syslog_name":               "${multi_instance_name?{$multi_instance_name}:{tern}}",
		"queue_directory":           "/var/spool/tern",
		"data_directory":            "/var/lib/tern",
		"daemon_directory":          "/usr/libexec/tern",
		"config_directory":          "/etc/tern",
	}
	for _, m := range []map[string]string{postfix, tern} {
		for name, want := range m {
			p, ok := Lookup(name)
			if !ok {
				t.Errorf("%s missing from the table", name)
				continue
			}
			if p.Default != want {
				t.Errorf("%s default = %q, want %q", name, p.Default, want)
			}
		}
	}
}

// TestCompatibilityLevelDefaults: a main.cf that keeps an older
// compatibility_level gets Postfix's defaults of that level, and one
// without the line gets the current ones; an explicit setting wins.
func TestCompatibilityLevelDefaults(t *testing.T) {
	want := map[string][3]string{ // at level 0, at level 2, with no level
		"append_dot_mydomain":                       {"yes", "no", "no"},
		"smtputf8_enable":                           {"no", "yes", "yes"},
		"smtpd_relay_restrictions":                  {"", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination", "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"},
		"mynetworks_style":                          {"subnet", "host", "host"},
		"relay_domains":                             {"mail.example, localhost.example, localhost", "", ""},
		"smtpd_tls_fingerprint_digest":              {"md5", "md5", "sha256"},
		"respectful_logging":                        {"no", "no", "yes"},
		"smtpd_relay_before_recipient_restrictions": {"no", "no", "yes"},
	}
	for i, level := range []string{"compatibility_level = 0\n", "compatibility_level = 2\n", ""} {
		c := mustParse(t, level+"myhostname = mail.example\nmydomain = example\n")
		for name, values := range want {
			if got := c.Get(name); got != values[i] {
				t.Errorf("%q: %s = %q, want %q", level, name, got, values[i])
			}
		}
	}
	c := mustParse(t, "compatibility_level = 2\nsmtpd_tls_fingerprint_digest = sha1\n")
	if got := c.Get("smtpd_tls_fingerprint_digest"); got != "sha1" {
		t.Errorf("explicit setting at level 2: %q", got)
	}
	got := strings.Join(c.BackwardsCompatible(), " ")
	wantOld := "lmtp_tls_fingerprint_digest=md5 respectful_logging=no smtp_tls_fingerprint_digest=md5 smtpd_relay_before_recipient_restrictions=no"
	if got != wantOld {
		t.Errorf("backwards-compatible settings at level 2:\n got %s\nwant %s", got, wantOld)
	}
	if got := mustParse(t, "").BackwardsCompatible(); got != nil {
		t.Errorf("backwards-compatible settings without a level: %q", got)
	}
}

func TestTableIsWellFormed(t *testing.T) {
	params := Params()
	if len(params) < 200 {
		t.Errorf("only %d parameters", len(params))
	}
	types := map[string]bool{typeString: true, typeBool: true, typeInt: true, typeSize: true,
		typeList: true, typeMapList: true, typeTimeS: true, typeTimeM: true, typeTimeH: true, typeTimeD: true}
	for i, p := range params {
		if i > 0 && params[i-1].Name >= p.Name {
			t.Errorf("table not sorted or duplicate at %s", p.Name)
		}
		if !types[p.Type] {
			t.Errorf("%s: bad type %q", p.Name, p.Type)
		}
		if p.Doc == "" || strings.Contains(p.Doc, "\n") {
			t.Errorf("%s: Doc must be one non-empty line", p.Name)
		}
		for _, c := range p.Name {
			if !isNameByte(byte(c)) || c > 0x7f {
				t.Errorf("%s: bad character in name", p.Name)
				break
			}
		}
	}
	params[0].Default = "changed"
	if Params()[0].Default == "changed" {
		t.Error("Params returns the shared table")
	}
}

func TestDefaultsAreValid(t *testing.T) {
	c := Defaults()
	for _, p := range Params() {
		if err := c.validate(p.Name); err != nil {
			t.Errorf("default of %s: %v", p.Name, err)
		}
	}
	if got := c.Get("syslog_name"); got != "tern" {
		t.Errorf("syslog_name = %q", got)
	}
	if got := c.Get("smtpd_timeout"); got != "300s" {
		t.Errorf("smtpd_timeout = %q", got)
	}
	if got := c.Get("smtpd_banner"); got != c.Get("myhostname")+" ESMTP tern" {
		t.Errorf("smtpd_banner = %q", got)
	}
	if got := c.Get("mynetworks"); got != "127.0.0.0/8 [::1]/128" {
		t.Errorf("mynetworks = %q", got)
	}
	if got := c.Int64("tern_content_inline_limit"); got != 262144 {
		t.Errorf("tern_content_inline_limit = %d", got)
	}
}

func TestComputedDefaults(t *testing.T) {
	c := Defaults()
	host := c.Get("myhostname")
	if !strings.Contains(host, ".") {
		t.Errorf("myhostname %q is not qualified", host)
	}
	if v, set := c.Raw("myhostname"); v != host || set {
		t.Errorf("Raw(myhostname) = %q, %v", v, set)
	}
	if got, want := c.Get("mydomain"), host[strings.IndexByte(host, '.')+1:]; got != want {
		t.Errorf("mydomain = %q, want %q", got, want)
	}
	c = mustParse(t, "myhostname = mx1.mail.example.org\n")
	if got := c.Get("mydomain"); got != "mail.example.org" {
		t.Errorf("mydomain from configured myhostname = %q", got)
	}
	if got := c.Get("mydestination"); got != "mx1.mail.example.org, localhost.mail.example.org, localhost" {
		t.Errorf("mydestination = %q", got)
	}
	c = mustParse(t, "mydomain = example.net\n")
	if got := c.Get("mydomain"); got != "example.net" {
		t.Errorf("configured mydomain = %q", got)
	}
	for _, tt := range []struct{ in, qualified, domain string }{
		{"box", "box.localdomain", "localdomain"},
		{"a.b.c", "a.b.c", "b.c"},
		{"a.b.", "a.b", "b"},
	} {
		q := qualify(tt.in)
		if q != tt.qualified || domainOf(q) != tt.domain {
			t.Errorf("qualify(%q) = %q, domain %q", tt.in, q, domainOf(q))
		}
	}
	if domainOf("") != "localdomain" || domainOf("x.") != "localdomain" {
		t.Error("domainOf edge cases")
	}
}

func TestMynetworksStyles(t *testing.T) {
	for _, style := range []string{"subnet", "class"} {
		c := mustParse(t, "mynetworks_style = "+style+"\n")
		got := c.Get("mynetworks")
		if !strings.HasPrefix(got, "127.0.0.0/8 [::1]/128") {
			t.Errorf("mynetworks for %s = %q", style, got)
		}
	}
	c := mustParse(t, "mynetworks_style = host\nmynetworks = 10.0.0.0/8\n")
	if got := c.Get("mynetworks"); got != "10.0.0.0/8" {
		t.Errorf("configured mynetworks = %q", got)
	}
}

// TestFixedDefaultsValid checks the defaults that validateAll skips: with
// no $name and nothing computed, each must fit its type as written.
func TestFixedDefaultsValid(t *testing.T) {
	n := 0
	for _, p := range Params() {
		if !isFixedDefault(p) || isRawParam(p.Name) {
			continue
		}
		n++
		if err := checkType(p, p.Default); err != nil {
			t.Errorf("default of %s (%q): %v", p.Name, p.Default, err)
		}
	}
	if n < 100 {
		t.Errorf("only %d fixed defaults checked: is the test still reaching the table?", n)
	}
}
