package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse("main.cf", strings.NewReader(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestParseSyntax(t *testing.T) {
	tests := []struct {
		name, text, param, want string
	}{
		{"simple", "relayhost = [mx.example.com]:25\n", "relayhost", "[mx.example.com]:25"},
		{"no spaces", "relayhost=mx\n", "relayhost", "mx"},
		{"continuation", "mydestination = a,\n    b,\n\tc\n", "mydestination", "a, b, c"},
		{"comment inside continuation", "mydestination = a,\n# note\n  b\n", "mydestination", "a, b"},
		{"blank inside continuation", "mydestination = a,\n\n  b\n", "mydestination", "a, b"},
		{"hash in value", "smtpd_banner = x # not a comment\n", "smtpd_banner", "x # not a comment"},
		{"indented comment", "  # comment\nrelayhost = r\n", "relayhost", "r"},
		{"later overrides", "relayhost = a\nrelayhost = b\n", "relayhost", "b"},
		{"empty value", "relayhost =\n", "relayhost", ""},
		{"crlf", "relayhost = a\r\n", "relayhost", "a"},
		{"no final newline", "relayhost = a", "relayhost", "a"},
		{"equals in value", "mailbox_command = /bin/x -a=b\n", "mailbox_command", "/bin/x -a=b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.text)
			got, set := c.Raw(tt.param)
			if got != tt.want || !set {
				t.Errorf("Raw(%s) = %q, %v; want %q, true", tt.param, got, set, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"missing equals", "# c\nrelayhost = a\nbogus line\n", "main.cf:3: missing '=' after parameter name"},
		{"name with space", "foo bar = x\n", "main.cf:1: missing '=' after parameter name \"foo\""},
		{"empty name", "\n = x\n", "main.cf:2: continuation line without a preceding definition"},
		{"empty name 2", "= x\n", "main.cf:1: missing parameter name before '='"},
		{"bad number", "a = b\n\nmessage_size_limit = abc\n", "main.cf:3: bad numerical parameter value: message_size_limit = abc"},
		{"negative size", "message_size_limit = -1\n", "main.cf:1: bad numerical parameter value: message_size_limit = -1"},
		{"bad bool", "biff = maybe\n", "main.cf:1: bad boolean parameter value: biff = maybe"},
		{"bad time", "queue_run_delay = 5x\n", "main.cf:1: bad time parameter value: queue_run_delay = 5x"},
		{"bad expanded number", "x = abc\nhopcount_limit = $x\n", "main.cf:2: bad numerical parameter value: hopcount_limit = abc"},
		{"loop", "a = $b\nb = ${a}\n", "main.cf:1: recursive expansion of parameter \"a\": a -> b -> a"},
		{"self loop", "relayhost = x$relayhost\n", "main.cf:1: recursive expansion"},
		{"unclosed brace", "relayhost = ${myhostname\n", "main.cf:1: missing '}'"},
		{"bad conditional", "relayhost = ${myhostname?{a}x}\n", "main.cf:1: bad parameter reference"},
		{"default broken by setting", "mynetworks_style = host\nstress = yes\nsmtpd_timeout = $stress\n", "main.cf:3: bad time parameter value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("main.cf", strings.NewReader(tt.text))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want *Error", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "/etc/tern/main.cf", Line: 7, Msg: "m"}, "/etc/tern/main.cf:7: m"},
		{Error{File: "main.cf", Msg: "default of x: y"}, "main.cf: default of x: y"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestExpansion(t *testing.T) {
	const conf = `
myhostname = mail.example.com
empty =
full = yes
a = A
b = [$a]
nested = ${b}-$(a)
`
	c := mustParse(t, conf)
	tests := []struct{ in, want string }{
		{"$myhostname", "mail.example.com"},
		{"${myhostname}x", "mail.example.comx"},
		{"$(myhostname)", "mail.example.com"},
		{"$mydomain", "example.com"},
		{"$nested", "[A]-A"},
		{"$undefined_thing|", "|"},
		{"${full?yes-branch}", "yes-branch"},
		{"${empty?yes-branch}", ""},
		{"${undefined?x}", ""},
		{"${full:no-branch}", ""},
		{"${empty:no-branch}", "no-branch"},
		{"${full?{then}:{else}}", "then"},
		{"${empty?{then}:{else}}", "else"},
		{"${full?{then $a}}", "then A"},
		{"${empty:{$b}}", "[A]"},
		{"${full?{x} : {y}}", "x"},
		{"${full?$a$b}", "A[A]"},
		{"${full?{a{b}c}:{d}}", "a{b}c"},
		{"$$a", "$a"},
		{"cost $", "cost $"},
		{"$-x", "$-x"},
		{"${stress?{10}:{300}}s", "300s"},
	}
	for _, tt := range tests {
		got, err := c.Expand(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestExpansionErrors(t *testing.T) {
	c := mustParse(t, "full = yes\n")
	for _, in := range []string{"${", "${full", "${}", "${full!x}", "${full?{x}", "${full?{x}:y}", "${full:{x}:{y}}", "${{$full} == {yes}}"} {
		if got, err := c.Expand(in); err == nil {
			t.Errorf("Expand(%q) = %q, want error", in, got)
		}
	}
}

func TestExpansionBlowupIsBounded(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("p0 = xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n")
	for i := 1; i < 30; i++ {
		sb.WriteString("p" + strconv.Itoa(i) + " = $p" + strconv.Itoa(i-1) + "$p" + strconv.Itoa(i-1) + "$p" + strconv.Itoa(i-1) + "\n")
	}
	start := time.Now()
	_, err := Parse("main.cf", strings.NewReader(sb.String()))
	if err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Parse error = %v, want expansion too large", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("expansion took %v", d)
	}
}

func TestRawParamsStayUnexpanded(t *testing.T) {
	c := mustParse(t, "recipient_delimiter = +\nmailbox_command = /usr/bin/procmail -a \"$EXTENSION\"\n")
	if got := c.Get("forward_path"); got != "$home/.forward${recipient_delimiter}${extension}, $home/.forward" {
		t.Errorf("Get(forward_path) = %q", got)
	}
	if got := c.Get("mailbox_command"); got != "/usr/bin/procmail -a \"$EXTENSION\"" {
		t.Errorf("Get(mailbox_command) = %q", got)
	}
}

func TestTypedGetters(t *testing.T) {
	c := mustParse(t, `
biff = No
smtpd_use_tls = TRUE
message_size_limit = 20480000
hopcount_limit = 7
mydestination = a.example, b.example  c.example,,d
maximal_queue_lifetime = 2
minimal_backoff_time = 90
delay_warning_time = 4
queue_run_delay = 2m
foo = 12
`)
	if c.Bool("biff") || !c.Bool("smtpd_use_tls") || c.Bool("nonexistent") {
		t.Error("Bool mismatch")
	}
	if c.Int64("message_size_limit") != 20480000 || c.Int("hopcount_limit") != 7 || c.Int("foo") != 12 {
		t.Error("Int mismatch")
	}
	if c.Int("relayhost") != 0 {
		t.Error("Int of non-number should be 0")
	}
	if got, want := c.List("mydestination"), []string{"a.example", "b.example", "c.example", "d"}; !reflect.DeepEqual(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	if got := c.List("relayhost"); len(got) != 0 {
		t.Errorf("List(empty) = %q", got)
	}
	durations := map[string]time.Duration{
		"maximal_queue_lifetime":  48 * time.Hour,
		"minimal_backoff_time":    90 * time.Second,
		"delay_warning_time":      4 * time.Hour,
		"queue_run_delay":         2 * time.Minute,
		"bounce_queue_lifetime":   5 * 24 * time.Hour,
		"tern_queue_commit_delay": 0,
		"smtpd_timeout":           300 * time.Second,
		"foo":                     12 * time.Second,
		"relayhost":               0,
	}
	for name, want := range durations {
		if got := c.Duration(name); got != want {
			t.Errorf("Duration(%s) = %v, want %v", name, got, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in, unit string
		want     time.Duration
		ok       bool
	}{
		{"10", "s", 10 * time.Second, true},
		{"10", "d", 240 * time.Hour, true},
		{"1w", "s", 168 * time.Hour, true},
		{"3H", "s", 3 * time.Hour, true},
		{"5ms", "s", 5 * time.Millisecond, true},
		{"0h", "h", 0, true},
		{"", "s", 0, false},
		{"s", "s", 0, false},
		{"-1s", "s", 0, false},
		{"1y", "s", 0, false},
		{"1.5h", "s", 0, false},
		{"99999999999999w", "s", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDuration(tt.in, tt.unit)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDuration(%q, %q) = %v, %v; want %v ok=%v", tt.in, tt.unit, got, err, tt.want, tt.ok)
		}
	}
}

func TestSet(t *testing.T) {
	c := mustParse(t, "smtpd_banner = hello\n")
	clone := c.Clone()
	if err := clone.Set("smtpd_banner", "  $myhostname x "); err != nil {
		t.Fatal(err)
	}
	if v, _ := c.Raw("smtpd_banner"); v != "hello" {
		t.Errorf("Clone shares state: original now %q", v)
	}
	if v, set := clone.Raw("smtpd_banner"); v != "$myhostname x" || !set {
		t.Errorf("Raw after Set = %q, %v", v, set)
	}
	bad := []struct{ name, value string }{
		{"message_size_limit", "10k"},
		{"smtpd_use_tls", "maybe"},
		{"smtpd_timeout", "forever"},
		{"relayhost", "$relayhost"},
		{"", "x"},
		{"a b", "x"},
		{"relayhost", "a\nb"},
	}
	for _, b := range bad {
		if err := clone.Set(b.name, b.value); err == nil {
			t.Errorf("Set(%q, %q) accepted", b.name, b.value)
		}
	}
	if v, _ := clone.Raw("message_size_limit"); v != "10240000" {
		t.Errorf("failed Set changed the value to %q", v)
	}
	if v, _ := clone.Raw("relayhost"); v != "" {
		t.Errorf("failed Set changed relayhost to %q", v)
	}
	if err := clone.Set("user_var", "anything"); err != nil {
		t.Errorf("Set of a user-defined name: %v", err)
	}
	want := []string{"smtpd_banner = $myhostname x", "user_var = anything"}
	if got := clone.NonDefault(); !reflect.DeepEqual(got, want) {
		t.Errorf("NonDefault = %q, want %q", got, want)
	}
}

func TestWarnings(t *testing.T) {
	c, err := Parse("/etc/tern/main.cf", strings.NewReader(`
foo_bar = 1
my_clients = 10.0.0.0/8
mynetworks = 127.0.0.0/8 $my_clients
unused_too = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`/etc/tern/main.cf:2: warning: unknown parameter "foo_bar"`,
		`/etc/tern/main.cf:5: warning: unknown parameter "unused_too"`,
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings = %q, want %q", got, want)
	}
	if got := c.WarningsWithRefs("-o x=$unused_too"); !reflect.DeepEqual(got, want[:1]) {
		t.Errorf("WarningsWithRefs = %q, want %q", got, want[:1])
	}
	if got := c.Get("mynetworks"); got != "127.0.0.0/8 10.0.0.0/8" {
		t.Errorf("user variable not expanded: %q", got)
	}
	if len(Defaults().Warnings()) != 0 {
		t.Error("Defaults has warnings")
	}
}

func TestNamesIncludesUserDefined(t *testing.T) {
	c := mustParse(t, "zz_custom = 1\n")
	names := c.Names()
	if len(names) != len(Params())+1 || names[len(names)-1] != "zz_custom" {
		t.Errorf("Names: %d names, last %q", len(names), names[len(names)-1])
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load without main.cf: %v", err)
	}
	if len(c.NonDefault()) != 0 || c.File() != filepath.Join(dir, "main.cf") {
		t.Errorf("missing main.cf: NonDefault=%q File=%q", c.NonDefault(), c.File())
	}
	path := filepath.Join(dir, "main.cf")
	if err := os.WriteFile(path, []byte("relayhost = r\nbiff = x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(dir)
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.File != path || cerr.Line != 2 {
		t.Errorf("Load error = %#v", err)
	}
	if Defaults().File() != "" {
		t.Error("Defaults().File() should be empty")
	}
}

func TestDir(t *testing.T) {
	t.Setenv("MAIL_CONFIG", "")
	if Dir("") != DefaultDir || Dir("/x") != "/x" {
		t.Error("Dir without MAIL_CONFIG")
	}
	t.Setenv("MAIL_CONFIG", "/env")
	if Dir("") != "/env" || Dir("/x") != "/x" {
		t.Error("Dir with MAIL_CONFIG")
	}
}

func TestConfFilesParse(t *testing.T) {
	c, err := Load("../../conf")
	if err != nil {
		t.Fatalf("conf/main.cf: %v", err)
	}
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("conf/main.cf warnings: %q", w)
	}
	services, err := LoadMaster("../../conf", c.Int("default_process_limit"))
	if err != nil {
		t.Fatalf("conf/master.cf: %v", err)
	}
	var got []string
	for _, s := range services {
		got = append(got, s.Name+"/"+s.Type+"/"+s.Command)
	}
	want := []string{"smtp/inet/smtpd", "pickup/unix/qmgr", "cleanup/unix/qmgr", "qmgr/unix/qmgr", "showq/unix/qmgr", "local/unix/local",
		"smtp/unix/smtp", "relay/unix/smtp", "lmtp/unix/lmtp", "virtual/unix/virtual"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("services = %q, want %q", got, want)
	}
}

func TestUnsupportedParameterWarning(t *testing.T) {
	src := "myhostname = mx.example\nin_flow_delay = 0\nqueue_minfree = 0\n"
	c, err := Parse("/etc/tern/main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/etc/tern/main.cf:2: warning: in_flow_delay is not supported by tern yet: the setting has no effect"}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() = %q, want %q (a value equal to the default draws none)", got, want)
	}
	if !Unsupported("in_flow_delay") || Unsupported("canonical_maps") || Unsupported("address_verify_sender_ttl") {
		t.Error("Unsupported misreports")
	}
}

// TestPostscreenParametersWarn: a Postfix main.cf tuned for postscreen
// parses; the settings of the tests tern does (older names included,
// and the deep protocol tests since smtpd runs them) draw nothing, and
// those of postscreen's own SMTP engine, which tern does not have, are
// reported when they would change something, older names included.
func TestPostscreenParametersWarn(t *testing.T) {
	src := "postscreen_access_list = permit_mynetworks\n" +
		"postscreen_dnsbl_sites = zen.spamhaus.org*3\n" +
		"postscreen_blacklist_action = drop\n" +
		"postscreen_greet_action = enforce\n" +
		"postscreen_pipelining_enable = yes\n" +
		"postscreen_whitelist_interfaces = !192.0.2.1, static:all\n" +
		"postscreen_forbidden_commands = CONNECT\n"
	c, err := Parse("/etc/tern/main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/etc/tern/main.cf:6: warning: postscreen_whitelist_interfaces is not supported by tern yet: the setting has no effect",
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() = %q\nwant %q", got, want)
	}
	if got := c.Get("postscreen_denylist_action"); got != "drop" {
		t.Errorf("postscreen_denylist_action = %q, want the older name's value", got)
	}
	if got := c.Get("smtpd_service_name"); got != "smtpd" {
		t.Errorf("smtpd_service_name = %q, want smtpd", got)
	}
}

// TestRestrictionClassesAreNotUnknown: a class listed in
// smtpd_restriction_classes was reported as an unknown parameter.
func TestRestrictionClassesAreNotUnknown(t *testing.T) {
	src := "smtpd_restriction_classes = mua_sender_restrictions, strict\n" +
		"mua_sender_restrictions = permit_sasl_authenticated, reject\n" +
		"strict = reject_unknown_sender_domain\n" +
		"not_a_class = reject\n"
	c, err := Parse("/etc/tern/main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`/etc/tern/main.cf:4: warning: unknown parameter "not_a_class"`}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() = %q, want %q", got, want)
	}
}

// TestNotifyClassesWarning: the notify_classes that tern does not honour
// are named (data); bounce, delay, the defaults and, since smtpd sends
// transcripts, policy and protocol draw nothing.
func TestNotifyClassesWarning(t *testing.T) {
	c, err := Parse("/etc/tern/main.cf", strings.NewReader("notify_classes = bounce, delay, policy, resource, protocol, data\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/etc/tern/main.cf:1: warning: notify_classes: data has no effect in tern"}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() = %q, want %q", got, want)
	}
}

// TestSMTPUTF8AutodetectClassesWarning: the setting was warned about
// as a whole; now only the classes tern has no source for are named.
func TestSMTPUTF8AutodetectClassesWarning(t *testing.T) {
	for src, want := range map[string][]string{
		"smtputf8_autodetect_classes = sendmail, smtpd, forward, verify\n": nil,
		"smtputf8_autodetect_classes = all\n":                              nil,
		"smtputf8_autodetect_classes = sendmail, qmqpd, bounce\n": {
			"main.cf:1: warning: smtputf8_autodetect_classes: qmqpd has no effect in tern"},
		"smtputf8_autodetect_classes = qmqpd, QMQPD\n": {
			"main.cf:1: warning: smtputf8_autodetect_classes: qmqpd, QMQPD have no effect in tern"},
	} {
		c, err := Parse("main.cf", strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Warnings(); len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Errorf("%q: Warnings() = %q, want %q", src, got, want)
		}
	}
}

// TestDANEWithoutDNSSECWarning: the dane levels without
// smtp_dns_support_level = dnssec work as may and encrypt; tern check
// says so at the line of the level.
func TestDANEWithoutDNSSECWarning(t *testing.T) {
	for src, want := range map[string][]string{
		"smtp_tls_security_level = dane\n":                                  {"main.cf:1: warning: smtp_tls_security_level = dane needs smtp_dns_support_level = dnssec: using may"},
		"smtp_tls_security_level = dane-only\n":                             {"main.cf:1: warning: smtp_tls_security_level = dane-only needs smtp_dns_support_level = dnssec: using encrypt"},
		"smtp_dns_support_level = dnssec\nsmtp_tls_security_level = dane\n": nil,
		"smtp_tls_security_level = encrypt\n":                               nil,
	} {
		c, err := Parse("main.cf", strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Warnings(); !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
			t.Errorf("%q: Warnings() = %q, want %q", src, got, want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"rbl_code": "554", "rbl_domain": "bl.test", "rbl_reason": "", "what": "$rbl_code"}
	tests := []struct{ in, want string }{
		{"$rbl_code Service unavailable; blocked using $rbl_domain${rbl_reason?; $rbl_reason}", "554 Service unavailable; blocked using bl.test"},
		{"${rbl_reason:no reason} $$ $unknown.", "no reason $ ."},
		// Values are not expanded again.
		{"[$what]", "[$rbl_code]"},
	}
	for _, tt := range tests {
		if got, err := ExpandVars(tt.in, vars); err != nil || got != tt.want {
			t.Errorf("ExpandVars(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := ExpandVars("${rbl_code", vars); err == nil {
		t.Error("ExpandVars of an unclosed reference: no error")
	}
}

func TestValueChecks(t *testing.T) {
	for src, want := range map[string]string{
		"receive_override_options = no_address_mappings, no_header_body_checks\n": "",
		"receive_override_options = no_address_mapping\n":                         `main.cf:1: receive_override_options = no_address_mapping: unknown option "no_address_mapping"`,
		"content_filter = smtp-amavis:[127.0.0.1]:10024\n":                        "",
		"content_filter = amavis\n":                                               "main.cf:1: content_filter = amavis: need transport:nexthop",
		"smtp_dns_support_level = dnssec\n":                                       "",
		"smtp_dns_support_level = dnsec\n":                                        "main.cf:1: smtp_dns_support_level = dnsec: need disabled, enabled or dnssec",
		"smtp_tls_fingerprint_digest = sha3\n":                                    "main.cf:1: smtp_tls_fingerprint_digest = sha3: need md5, sha1 or sha256",
		"smtpd_sasl_security_options = noanonymous, noplaintext\n":                "",
		"smtpd_min_data_rate = 0\n":                                               "main.cf:1: smtpd_min_data_rate = 0: need at least 1",
		"smtp_min_data_rate = 1\n":                                                "",
		"postscreen_greet_action = Continue\n":                                    "",
		"postscreen_dnsbl_action = block\n":                                       "main.cf:1: postscreen_dnsbl_action = block: need ignore, enforce or drop",
		"postscreen_dnsbl_sites = zen.example=127.0.0.[2..11]*3, wl.example*-2\n": "",
		"postscreen_dnsbl_sites = zen.example*x\n":                                `main.cf:1: postscreen_dnsbl_sites = zen.example*x: "zen.example*x": the weight after * must be a whole number`,
		"smtp_sasl_tls_security_options = noanonymous, noclear\n":                 `main.cf:1: smtp_sasl_tls_security_options = noanonymous, noclear: unknown option "noclear": tern knows noanonymous, noplaintext, nodictionary, noactive, forward_secrecy and mutual_auth`,
	} {
		_, err := Parse("main.cf", strings.NewReader(src))
		if want == "" && err != nil || want != "" && (err == nil || !strings.HasPrefix(err.Error(), want)) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

// TestServiceParamWarnings: <service>_time_limit and the delivery limits
// of master.cf services are known (Debian's policyd-spf README sets
// policyd-spf_time_limit); the ones tern lacks are said to be
// unsupported; for other names they stay unknown.
func TestServiceParamWarnings(t *testing.T) {
	src := "policyd-spf_time_limit = 3600\ndovecot_destination_recipient_limit = 1\n" +
		"amavis_delivery_slot_cost = 1\nnosuchservice_time_limit = 5\n"
	c, err := Parse("/etc/tern/main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	got := c.WarningsWithServices([]string{"smtp", "policyd-spf", "dovecot", "amavis"})
	want := []string{
		"/etc/tern/main.cf:3: warning: amavis_delivery_slot_cost is not supported by tern yet: the setting has no effect",
		`/etc/tern/main.cf:4: warning: unknown parameter "nosuchservice_time_limit"`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTLSHardeningWarnings: the OpenSSL settings of the usual hardened
// configurations drew "no effect" warnings even where tern honours them.
// Values tern honours draw none; others still do, with the file and line.
func TestTLSHardeningWarnings(t *testing.T) {
	src := "smtpd_tls_mandatory_ciphers = high\n" +
		"tls_medium_cipherlist = ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256\n" +
		"smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES, RC4, MD5, PSK, aECDH\n" +
		"tls_ssl_options = NO_COMPRESSION, NO_RENEGOTIATION\n" +
		"tls_preempt_cipherlist = yes\n" +
		"tls_high_cipherlist = EECDH+AESGCM:EDH+AESGCM\n" +
		"tls_ssl_options = NO_TICKET\n" +
		"smtp_tls_ciphers = export\n" +
		"smtpd_tls_dh1024_param_file = /etc/ssl/dh.pem\n"
	c, err := Parse("main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"main.cf:6: warning: tls_high_cipherlist is not supported by tern yet: the setting has no effect",
		"main.cf:7: warning: tls_ssl_options is not supported by tern yet: the setting has no effect",
		"main.cf:8: warning: smtp_tls_ciphers is not supported by tern yet: the setting has no effect",
		"main.cf:9: warning: smtpd_tls_dh1024_param_file is not used: tern's TLS has no DHE key exchange, only ECDHE and TLS 1.3",
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestUnreadParametersWarn: known parameters that nothing in tern read
// (authorized_flush_users, smtp_always_send_ehlo, smtpd_junk_command_limit
// and others, some done since) were accepted silently at any value. A
// value other than the default now draws the usual warning; the default
// draws none.
func TestUnreadParametersWarn(t *testing.T) {
	c, err := Parse("main.cf", strings.NewReader("multi_instance_enable = yes\nheader_address_token_limit = 500\nresolve_numeric_domain = no\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"main.cf:1: warning: multi_instance_enable is not supported by tern yet: the setting has no effect",
		"main.cf:2: warning: header_address_token_limit is not supported by tern yet: the setting has no effect",
	}
	if got := c.Warnings(); !reflect.DeepEqual(got, want) {
		t.Errorf("Warnings() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMyoriginFromFile: Debian's installer writes "myorigin =
// /etc/mailname", and its Postfix takes the domain from that file; tern
// took the path for the domain, so local mail went out from
// user@/etc/mailname. The file's first line is now the domain, read when
// main.cf is; a file that cannot be read is an error at its line.
func TestMyoriginFromFile(t *testing.T) {
	dir := t.TempDir()
	mailname := filepath.Join(dir, "mailname")
	if err := os.WriteFile(mailname, []byte("mail.example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Parse("main.cf", strings.NewReader("myorigin = "+mailname+"\nbounce_notice_recipient = postmaster@$myorigin\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Get("myorigin"); got != "mail.example.org" {
		t.Errorf("myorigin = %q, want the file's domain", got)
	}
	if got := c.Get("bounce_notice_recipient"); got != "postmaster@mail.example.org" {
		t.Errorf("$myorigin expands to %q", got)
	}
	if nd := c.NonDefault(); !slices.Contains(nd, "myorigin = "+mailname) {
		t.Errorf("NonDefault %q does not keep the path as written", nd)
	}
	if got := c.Clone().Get("myorigin"); got != "mail.example.org" {
		t.Errorf("clone's myorigin = %q", got)
	}
	if err := c.Set("myorigin", filepath.Join(dir, "missing")); err == nil || c.Get("myorigin") != "mail.example.org" {
		t.Errorf("Set to a missing file: %v; myorigin now %q", err, c.Get("myorigin"))
	}
	if err := c.Set("myorigin", "example.net"); err != nil || c.Get("myorigin") != "example.net" {
		t.Errorf("Set to a domain: %v, %q", err, c.Get("myorigin"))
	}
	_, err = Parse("main.cf", strings.NewReader("\nmyorigin = "+filepath.Join(dir, "missing")+"\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "main.cf:2: myorigin = ") {
		t.Errorf("missing file: %v, want an error at main.cf:2", err)
	}
}

// TestAddressVerifyMapWarnings: address_verify_map drew a "not used"
// warning at any value but empty. A file table, which qmgr now keeps its
// cache in, draws none; another table still does, with the file and line.
func TestAddressVerifyMapWarnings(t *testing.T) {
	for src, want := range map[string][]string{
		"address_verify_map = btree:/var/lib/postfix/verify_cache\n":      nil,
		"address_verify_map = proxy:btree:$data_directory/verify_cache\n": nil,
		"address_verify_map = lmdb:$data_directory/verify\n":              nil,
		"address_verify_map =\n":                                          nil,
		"address_verify_map = memcache:/etc/postfix/verify-memcache.cf\n": {"main.cf:1: warning: " + notNeeded["address_verify_map"]},
		"address_verify_map = btree:verify_cache\n":                       {"main.cf:1: warning: " + notNeeded["address_verify_map"]},
	} {
		c, err := Parse("main.cf", strings.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Warnings(); len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
			t.Errorf("%sWarnings() = %q, want %q", src, got, want)
		}
	}
}
