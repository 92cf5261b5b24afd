package smtp

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/smtp/client"
	"github.com/tern-mta/tern/smtp/mx"
)

func TestCheckSettings(t *testing.T) {
	tests := []struct {
		mainCF string
		lmtp   bool
		err    string
	}{
		{"", false, ""},
		{"smtp_tls_wrappermode = yes\nsmtp_tls_security_level = encrypt\n", false, ""},
		{"smtp_tls_wrappermode = yes\nsmtp_tls_security_level = none\n", false, "smtp_tls_wrappermode = yes needs smtp_tls_security_level = encrypt"},
		{"smtp_tls_wrappermode = yes\nsmtp_tls_security_level = none\n", true, ""}, // lmtp does not use it
		{"smtp_tls_protocols = >=TLSv9\n", false, "smtp_tls_protocols: unknown protocol"},
		{"smtp_tls_mandatory_protocols = !TLSv7\n", false, "smtp_tls_mandatory_protocols: unknown protocol"},
		{"smtp_sasl_mechanism_filter = plain, login\n", false, ""},
		{"smtp_sasl_mechanism_filter = hash:/etc/postfix/mechs\n", false, "smtp_sasl_mechanism_filter: hash:/etc/postfix/mechs: tern takes mechanism names, not tables"},
	}
	for _, tt := range tests {
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		err = check(cfg, t.TempDir(), tt.lmtp)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q (lmtp %v): %v", tt.mainCF, tt.lmtp, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want %q", tt.mainCF, err, tt.err)
		}
	}
}

// TestTLSSessionCache: smtp_tls_session_cache_database (set by Debian's
// main.cf) had no effect. Set, it gives sessions an in-memory cache, one
// for unchecked levels and another for checked ones; unset, none.
func TestTLSSessionCache(t *testing.T) {
	for _, tt := range []struct {
		mainCF string
		cached bool
	}{
		{"", false},
		{"smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache\n", true},
	} {
		a := agentFor(t, tt.mainCF)
		caches := map[string]any{}
		for _, level := range []string{"may", "encrypt", "verify"} {
			a.set.tlsLevel = client.TLSLevel(level)
			opt, err := a.sessionOptions(destination{network: "tcp", host: "mx.example.tst", port: 25}, target{name: "mx.example.tst", network: "tcp"})
			if err != nil {
				t.Fatal(err)
			}
			if got := opt.TLSConfig.ClientSessionCache != nil; got != tt.cached {
				t.Errorf("%q, level %s: session cache %v, want %v", tt.mainCF, level, got, tt.cached)
			}
			caches[level] = opt.TLSConfig.ClientSessionCache
		}
		if tt.cached && (caches["may"] != caches["encrypt"] || caches["may"] == caches["verify"]) {
			t.Errorf("may and encrypt must share a cache, verify must have its own")
		}
	}
}

// TestSenderDependentAuthentication: smtp_sender_dependent_authentication
// was an unknown parameter. With it, the login comes from the sender's
// entry (address, address without extension, @domain) before the next
// hop's, and sessions are reused only for the same login.
func TestSenderDependentAuthentication(t *testing.T) {
	const maps = "smtp_sasl_auth_enable = yes\nrecipient_delimiter = +\n" +
		"smtp_sasl_password_maps = inline:{ alice@corp.example=alice:a-pw, @corp.example=corp:c-pw, [relay.example]:587=relay:r-pw }\n"
	dest := destination{network: "tcp", host: "relay.example", port: 587}
	for _, tt := range []struct {
		senderAuth bool
		sender     string
		user       string // "" for no login
	}{
		{true, "alice@corp.example", "alice"},
		{true, "alice+news@corp.example", "alice"},
		{true, "bob@corp.example", "corp"},
		{true, "eve@elsewhere.example", "relay"},
		{true, "", "relay"},
		{false, "alice@corp.example", "relay"},
	} {
		mainCF := maps
		if tt.senderAuth {
			mainCF += "smtp_sender_dependent_authentication = yes\n"
		}
		a := agentFor(t, mainCF)
		auth, err := a.credentials(dest, tt.sender)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if auth != nil {
			got = auth.User
		}
		if got != tt.user {
			t.Errorf("sender-dependent %v, sender %q: login %q, want %q", tt.senderAuth, tt.sender, got, tt.user)
		}
		d := dest
		d.auth = auth
		if want := "[relay.example]:587 " + tt.user; d.cacheKey() != want {
			t.Errorf("cache key %q, want %q", d.cacheKey(), want)
		}
	}
}

// agentFor is an smtp agent with the settings of main.cf text, not
// started.
func agentFor(t *testing.T, mainCF string) *Agent {
	t.Helper()
	cfg, err := config.Parse("main.cf", strings.NewReader(mainCF))
	if err != nil {
		t.Fatal(err)
	}
	set, err := loadSettings(cfg, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	return &Agent{set: set}
}

// TestBindDialer: smtp_bind_address was known but had no effect; the
// agent now connects from it.
func TestBindDialer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	from := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			from <- err.Error()
			return
		}
		from <- c.RemoteAddr().String()
		c.Close()
	}()
	dial, err := bindDialer("127.0.0.2", "", false, t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(context.Background(), "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := <-from; !strings.HasPrefix(got, "127.0.0.2:") {
		t.Errorf("the connection came from %s, want 127.0.0.2", got)
	}
	for _, bad := range [][2]string{{"::1", ""}, {"", "127.0.0.1"}, {"mail.example.com", ""}} {
		if _, err := bindDialer(bad[0], bad[1], false, t.Errorf); err == nil {
			t.Errorf("bindDialer(%q, %q): no error", bad[0], bad[1])
		}
	}
}

// TestBindAddressEnforce: smtp_bind_address_enforce was an unknown name,
// and an address this host does not have failed every connection. As in
// Postfix, the client now connects from any address after a warning,
// unless smtp_bind_address_enforce = yes, which fails the connection.
func TestBindAddressEnforce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, enforce := range []bool{false, true} {
		var warnings []string
		warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
		dial, err := bindDialer("192.0.2.1", "", enforce, warn) // TEST-NET-1: no host has it
		if err != nil {
			t.Fatal(err)
		}
		c, err := dial(context.Background(), "tcp", l.Addr().String())
		if enforce {
			if err == nil || !strings.Contains(err.Error(), "bind") {
				c.Close()
				t.Errorf("enforced: %v, want the bind error", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("not enforced: %v", err)
		}
		c.Close()
		if len(warnings) != 1 || !strings.Contains(warnings[0], "bind 192.0.2.1:0") {
			t.Errorf("warnings %q", warnings)
		}
	}
}

func TestHostLookup(t *testing.T) {
	for _, tt := range []struct {
		words       []string
		native      bool
		first, off  bool
		errContains string
	}{
		{[]string{"dns"}, false, false, false, ""},
		{[]string{"dns", "native"}, true, false, false, ""},
		{[]string{"native", "dns"}, true, true, false, ""},
		{[]string{"native"}, true, true, true, ""},
		{[]string{"nis"}, false, false, false, `unknown method "nis"`},
	} {
		r := &mx.Resolver{}
		err := hostLookup(r, tt.words)
		if tt.errContains != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errContains) {
				t.Errorf("%q: %v, want an error with %q", tt.words, err, tt.errContains)
			}
			continue
		}
		if err != nil || (r.Native != nil) != tt.native || r.NativeFirst != tt.first || r.DNSOff != tt.off {
			t.Errorf("%q: native %v first %v off %v, %v", tt.words, r.Native != nil, r.NativeFirst, r.DNSOff, err)
		}
	}
}

// TestSASLMechanismFilter: smtp_sasl_mechanism_filter was warned about as
// having no effect; its names reach the client in upper case.
func TestSASLMechanismFilter(t *testing.T) {
	a := agentFor(t, "smtp_sasl_mechanism_filter = plain\n")
	opt, err := a.sessionOptions(destination{network: "tcp", host: "relay.example", port: 587}, target{name: "relay.example", network: "tcp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(opt.AuthMechanisms) != 1 || opt.AuthMechanisms[0] != "PLAIN" {
		t.Errorf("AuthMechanisms = %q, want [PLAIN]", opt.AuthMechanisms)
	}
}

// TestLMTPTLSParameters: lmtp_tls_loglevel and the lmtp forms of the
// certificate match and fingerprint parameters were read by the lmtp
// agent but were unknown names to tern check. They are known now, with
// Postfix's lmtp defaults.
func TestLMTPTLSParameters(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader("lmtp_tls_loglevel = 1\nlmtp_tls_verify_cert_match = hostname, nexthop\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	s, err := loadSettings(cfg, t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	if s.tlsLogLevel != 1 || strings.Join(s.verifyMatch, ",") != "hostname,nexthop" || strings.Join(s.secureMatch, ",") != "nexthop" {
		t.Errorf("lmtp settings: loglevel %d, verify %q, secure %q", s.tlsLogLevel, s.verifyMatch, s.secureMatch)
	}
}

// TestLMTPForms: the lmtp agent read the smtp_* forms of most client
// parameters, so lmtp_sasl_password_maps, lmtp_tls_CAfile and the like
// were unknown names and the relay's smtp_* settings applied to LMTP. The
// lmtp agent now reads the lmtp_* forms, with Postfix's defaults; the
// smtp agent keeps the smtp_* ones.
func TestLMTPForms(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader(
		"smtp_line_length_limit = 500\nlmtp_line_length_limit = 700\n"+
			"smtp_sasl_password_maps = inline:{ [relay.example]:587=relay:r-pw }\n"+
			"lmtp_sasl_password_maps = inline:{ [10.0.0.5]:24=dovecot:d-pw }\n"+
			"smtp_mail_timeout = 9s\nlmtp_assume_final = yes\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %q", w)
	}
	smtp, err := loadSettings(cfg, t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	lmtp, err := loadSettings(cfg.LMTPView(), t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	// lmtp_assume_final is for LMTP only (smtp successes stay relayed).
	if smtp.assumeFinal || !lmtp.assumeFinal {
		t.Errorf("lmtp_assume_final: smtp %v, lmtp %v", smtp.assumeFinal, lmtp.assumeFinal)
	}
	if smtp.lineLimit != 500 || lmtp.lineLimit != 700 {
		t.Errorf("line length limits: smtp %d, lmtp %d", smtp.lineLimit, lmtp.lineLimit)
	}
	if smtp.timeouts.Mail != 9*time.Second || lmtp.timeouts.Mail != 300*time.Second {
		t.Errorf("mail timeouts: smtp %v, lmtp %v (Postfix's lmtp default)", smtp.timeouts.Mail, lmtp.timeouts.Mail)
	}
	for _, tt := range []struct {
		set  settings
		key  string
		want bool
	}{{smtp, "[relay.example]:587", true}, {smtp, "[10.0.0.5]:24", false}, {lmtp, "[10.0.0.5]:24", true}, {lmtp, "[relay.example]:587", false}} {
		_, found, err := maps.LookupFirst(tt.set.saslPasswords, tt.key)
		if err != nil || found != tt.want {
			t.Errorf("lmtp %v: password for %s found %v, %v", tt.set.lmtp, tt.key, found, err)
		}
	}
}

// TestDiscardEhloKeywords: smtp_discard_ehlo_keywords and its address
// maps were unknown names; the client now ignores the keywords they name
// (the table's list, for a server it names, instead of the global one).
func TestDiscardEhloKeywords(t *testing.T) {
	a := agentFor(t, "smtp_discard_ehlo_keywords = chunking\n"+
		"smtp_discard_ehlo_keyword_address_maps = inline:{ {192.0.2.25 = pipelining, dsn} }\n")
	tests := []struct {
		addr string
		want string
	}{
		{"192.0.2.25:25", "DSN PIPELINING"},
		{"198.51.100.1:25", "CHUNKING"},
		{"/run/lmtp.sock", "CHUNKING"},
	}
	for _, tt := range tests {
		var got []string
		for kw := range a.discardedKeywords(target{addr: tt.addr}) {
			got = append(got, kw)
		}
		slices.Sort(got)
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s: %v, want %s", tt.addr, got, tt.want)
		}
	}
}

// TestClientChainFiles: smtp_tls_chain_files was an unknown name; the
// client now offers the certificates of its files (a key followed by its
// chain in each), before smtp_tls_cert_file.
func TestClientChainFiles(t *testing.T) {
	keyPEM, certPEM := testutil.SelfSignedPEM(t, "client.example", nil)
	file := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(file, append(keyPEM, certPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("main.cf", strings.NewReader("smtp_tls_chain_files = "+file+"\nsmtp_tls_cert_file = /nonexistent.pem\n"))
	if err != nil {
		t.Fatal(err)
	}
	certs, err := clientCertificates(cfg)
	if err != nil || len(certs) != 1 || len(certs[0].Certificate) != 1 {
		t.Fatalf("certificates %v, %v", certs, err)
	}
	cfg, _ = config.Parse("main.cf", strings.NewReader("smtp_tls_chain_files = /nonexistent.pem\n"))
	if _, err := clientCertificates(cfg); err == nil || !strings.Contains(err.Error(), "smtp_tls_chain_files") {
		t.Errorf("a missing chain file: %v", err)
	}
}

// TestTLSServerName: smtp_tls_servername was an unknown name; the client
// always sent the server's name in SNI. The name sent is now the
// setting's: hostname (tern's default), nexthop, a literal name, or none.
func TestTLSServerName(t *testing.T) {
	dest := destination{network: "tcp", host: "example.com", port: 25, mx: true}
	tgt := target{name: "mx1.example.net", network: "tcp", addr: "192.0.2.1:25"}
	for _, tt := range []struct{ setting, want string }{
		{"", "mx1.example.net"}, // the default
		{"smtp_tls_servername = hostname\n", "mx1.example.net"},
		{"smtp_tls_servername = nexthop\n", "example.com"},
		{"smtp_tls_servername = relay.example.org\n", "relay.example.org"},
		{"smtp_tls_servername =\n", ""},
	} {
		a := agentFor(t, tt.setting)
		for _, level := range []client.TLSLevel{client.TLSMay, client.TLSEncrypt, client.TLSVerify} {
			if got := a.levelConfig(level, dest, tgt, nil).ServerName; got != tt.want {
				t.Errorf("%q, %s: SNI %q, want %q", tt.setting, level, got, tt.want)
			}
		}
	}
}

// TestLegacyTLSLevel: with smtp_tls_security_level empty, the obsolete
// smtp_use_tls and smtp_enforce_tls decide, and smtp_tls_enforce_peername
// (an unknown name before) says whether enforcing means verify or only
// encrypt, as in Postfix.
func TestLegacyTLSLevel(t *testing.T) {
	for conf, want := range map[string]client.TLSLevel{
		"":                       "none",
		"smtp_use_tls = yes":     "may",
		"smtp_enforce_tls = yes": "verify",
		"smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no": "encrypt",
		"smtp_tls_enforce_peername = no":                         "none",
	} {
		cfg, err := config.Parse("main.cf", strings.NewReader("smtp_tls_security_level =\n"+conf+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tlsLevel(cfg, "smtp_"); err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", conf, got, err, want)
		}
	}
}

// TestSystemRootsReadAtStart: without smtp_tls_CAfile or _CApath, the
// system's authorities were left for crypto/tls to read at the first
// verification, after a chrooted smtp (Debian's master.cf) had lost
// /etc/ssl/certs, so the verify and secure levels failed every server.
// They are read with the settings now.
func TestSystemRootsReadAtStart(t *testing.T) {
	if _, err := x509.SystemCertPool(); err != nil {
		t.Skipf("no system CA certificates: %v", err)
	}
	cfg, err := config.Parse("main.cf", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	s, err := loadSettings(cfg, t.TempDir(), false)
	if err != nil || s.rootCAs == nil {
		t.Errorf("rootCAs = %v, %v; want the system's, read now", s.rootCAs, err)
	}
}
