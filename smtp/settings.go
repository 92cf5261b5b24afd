package smtp

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/netlist"
	"github.com/tern-mta/tern/pkg/peerlist"
	"github.com/tern-mta/tern/pkg/rewrite"
	"github.com/tern-mta/tern/pkg/sasl"
	"github.com/tern-mta/tern/pkg/tlsconf"
	"github.com/tern-mta/tern/smtp/client"
)

// settings are the main.cf parameters of one smtp or lmtp service. The
// lmtp agent reads the lmtp_* forms where Postfix has them.
type settings struct {
	lmtp bool
	// assumeFinal is lmtp_assume_final: an LMTP server without DSN is
	// taken to deliver, so successes are "delivered", not "relayed".
	assumeFinal  bool
	queueDir     string
	helo         string
	port         int
	addressLimit int
	// balanceProtocols is smtp_balance_inet_protocols.
	balanceProtocols bool
	sessionLimit     int
	connectTimeout   time.Duration
	tlsLevel         client.TLSLevel
	tlsPolicy        []maps.Map
	rootCAs          *x509.CertPool
	// tlsMin and tlsMandatoryMin are smtp_tls_protocols (level may) and
	// smtp_tls_mandatory_protocols (encrypt and above).
	tlsMin, tlsMandatoryMin uint16
	// sessions and checkedSessions keep TLS sessions for resumption when
	// smtp_tls_session_cache_database is set: in memory, one cache for
	// the levels that skip the certificate check and one for those that
	// make it, so that neither resumes the other's sessions. nil: none.
	sessions, checkedSessions tls.ClientSessionCache
	// clientCerts is smtp_tls_chain_files, or smtp_tls_cert_file with
	// smtp_tls_key_file: the certificates offered to servers that ask for
	// one; nil for none.
	clientCerts []tls.Certificate
	// wrapperMode is smtp_tls_wrappermode: TLS from the first byte
	// (port 465) instead of STARTTLS.
	wrapperMode    bool
	saslEnable     bool
	saslPasswords  []maps.Map
	generic        *rewrite.Settings // smtp_generic_maps; nil: none
	checks         *smtpChecks       // smtp_*_checks; nil: none
	senderAuth     bool              // smtp_sender_dependent_authentication
	tlsLogLevel    int               // smtp_tls_loglevel
	fallback       []destination     // smtp_fallback_relay, parsed at start
	delimiter      string            // recipient_delimiter, for sender lookups
	timeouts       client.Timeouts
	cacheTime      time.Duration
	reuseTime      time.Duration // smtp_connection_reuse_time_limit
	reuseCount     int           // smtp_connection_reuse_count_limit
	tlsReuse       bool          // smtp_tls_connection_reuse
	authSoftBounce bool
	// heloUnlessESMTP is smtp_always_send_ehlo = no: EHLO only when the
	// greeting says ESMTP. skip5xxGreeting is smtp_skip_5xx_greeting: a
	// 5xx greeting sends the client to the next server and, when none
	// takes the mail, defers it; otherwise the mail bounces at once.
	heloUnlessESMTP bool
	skip5xxGreeting bool
	neverEHLO       bool           // smtp_never_send_ehlo
	skipQuitReply   bool           // smtp_skip_quit_response (lmtp_...)
	perRequest      bool           // smtp_per_request_deadline
	minDataRate     int64          // smtp_min_data_rate, bytes per second
	debugPeers      *peerlist.List // debug_peer_list: servers whose conversation is logged
	tlsServerName   string         // smtp_tls_servername
	// bestMXTransport is best_mx_transport: where mail goes when this
	// host is the best MX (transport or transport:nexthop; "" bounces).
	bestMXTransport string
	// ownAddrs are this machine's addresses (inet_interfaces,
	// proxy_interfaces): an MX host among them is not delivered to.
	ownAddrs map[netip.Addr]bool
	// discardEHLO and discardEHLOMaps are smtp_discard_ehlo_keywords and
	// smtp_discard_ehlo_keyword_address_maps (by server address).
	discardEHLO     map[string]bool
	discardEHLOMaps []maps.Map
	authPolicy      sasl.Policy // smtp_sasl_security_options
	authTLSPolicy   sasl.Policy // smtp_sasl_tls_security_options
	authMechs       []string    // smtp_sasl_mechanism_filter, upper case; nil: any
	noDowngrade     bool        // disable_mime_output_conversion
	noteStartTLS    bool        // smtp_tls_note_starttls_offer
	lineLimit       int
	// dnsLevel is smtp_dns_support_level (or disable_dns_lookups):
	// "disabled", "enabled" or "dnssec".
	dnsLevel string
	// fingerprints and digest are smtp_tls_fingerprint_cert_match and
	// smtp_tls_fingerprint_digest, for the fingerprint level.
	fingerprints []string
	digest       func() hash.Hash
	// suites and mandatorySuites are the TLS 1.2 cipher suites of
	// opportunistic and mandatory TLS (smtp_tls_ciphers and its kin);
	// nil: Go's.
	suites, mandatorySuites []uint16
	// verifyMatch and secureMatch are smtp_tls_verify_cert_match and
	// smtp_tls_secure_cert_match.
	verifyMatch, secureMatch []string
	// wildcardMulti is tls_wildcard_matches_multiple_labels.
	wildcardMulti bool
	// sendXforward is smtp_send_xforward_command (lmtp_...): XFORWARD
	// to servers that offer it, as to a content filter.
	sendXforward bool
	// warnings are logged once the agent runs (settings that work, but
	// not as written).
	warnings []string
}

func loadSettings(cfg *config.Config, configDir string, lmtp bool) (settings, error) {
	p := "smtp_"
	if lmtp {
		p = "lmtp_"
	}
	s := settings{
		lmtp:             lmtp,
		assumeFinal:      lmtp && cfg.Bool("lmtp_assume_final"),
		queueDir:         cfg.Get("queue_directory"),
		helo:             cfg.Get("smtp_helo_name"),
		addressLimit:     cfg.Int("smtp_mx_address_limit"),
		balanceProtocols: cfg.Bool(p + "balance_inet_protocols"),
		sessionLimit:     cfg.Int("smtp_mx_session_limit"),
		connectTimeout:   cfg.Duration(p + "connect_timeout"),
		saslEnable:       cfg.Bool(p + "sasl_auth_enable"),
		sendXforward:     cfg.Bool(p + "send_xforward_command"),
		noDowngrade:      cfg.Bool("disable_mime_output_conversion"),
		noteStartTLS:     cfg.Bool(p + "tls_note_starttls_offer"),
		senderAuth:       cfg.Bool("smtp_sender_dependent_authentication"),
		tlsLogLevel:      cfg.Int(p + "tls_loglevel"),
		delimiter:        cfg.Get("recipient_delimiter"),
		cacheTime:        cfg.Duration("smtp_connection_cache_time_limit"),
		reuseTime:        cfg.Duration("smtp_connection_reuse_time_limit"),
		reuseCount:       cfg.Int("smtp_connection_reuse_count_limit"),
		tlsReuse:         cfg.Bool(p + "tls_connection_reuse"),
		timeouts: client.Timeouts{
			Greeting: cfg.Duration("smtp_helo_timeout"), Helo: cfg.Duration("smtp_helo_timeout"),
			StartTLS: cfg.Duration("smtp_starttls_timeout"), Mail: cfg.Duration("smtp_mail_timeout"),
			Rcpt: cfg.Duration("smtp_rcpt_timeout"), Data: cfg.Duration("smtp_data_init_timeout"),
			Body: cfg.Duration("smtp_data_xfer_timeout"), DataDone: cfg.Duration("smtp_data_done_timeout"),
			Quit: cfg.Duration("smtp_quit_timeout"), Rset: cfg.Duration("smtp_rset_timeout"),
		},
		authSoftBounce:  cfg.Bool("smtp_sasl_auth_soft_bounce"),
		heloUnlessESMTP: !lmtp && !cfg.Bool("smtp_always_send_ehlo"),
		neverEHLO:       !lmtp && cfg.Bool("smtp_never_send_ehlo"),
		perRequest:      cfg.Bool("smtp_per_request_deadline"),
		minDataRate:     cfg.Int64("smtp_min_data_rate"),
		skipQuitReply:   cfg.Bool("smtp_skip_quit_response"),
		skip5xxGreeting: lmtp || cfg.Bool("smtp_skip_5xx_greeting"),
		lineLimit:       cfg.Int("smtp_line_length_limit"),
	}
	if s.lineLimit == 0 {
		s.lineLimit = -1 // Postfix: 0 means no limit; the client's -1
	}
	if lmtp {
		s.helo = cfg.Get("lmtp_lhlo_name")
	}
	if s.connectTimeout <= 0 {
		s.connectTimeout = 30 * time.Second
	}
	portParam := "smtp_tcp_port"
	if lmtp {
		portParam = "lmtp_tcp_port"
	}
	var err error
	if s.port, err = parsePort(cfg.Get(portParam)); err != nil {
		return s, fmt.Errorf("%s: %w", portParam, err)
	}
	if s.tlsLevel, err = tlsLevel(cfg, p); err != nil {
		return s, err
	}
	if err := s.loadDANE(cfg, p); err != nil {
		return s, err
	}
	s.suites, s.mandatorySuites = clientSuites(cfg)
	parent := slices.Contains(cfg.List("parent_domain_matches_subdomains"), "debug_peer_list")
	if s.debugPeers, err = peerlist.New("debug_peer_list", cfg.List("debug_peer_list"), parent, maps.Options{}); err != nil {
		return s, err
	}
	s.tlsServerName = strings.TrimSpace(cfg.Get("smtp_tls_servername"))
	s.bestMXTransport = strings.TrimSpace(cfg.Get("best_mx_transport"))
	s.ownAddrs = netlist.OwnAddrs(cfg.List("inet_interfaces"), cfg.List("proxy_interfaces"))
	s.discardEHLO = keywordSet(cfg.Get("smtp_discard_ehlo_keywords"))
	if s.discardEHLOMaps, _, err = maps.OpenSpecList(cfg.Get("smtp_discard_ehlo_keyword_address_maps"), maps.Options{ConfigDir: configDir}); err != nil {
		return s, fmt.Errorf("smtp_discard_ehlo_keyword_address_maps: %w", err)
	}
	for _, m := range cfg.List("smtp_sasl_mechanism_filter") {
		if strings.Contains(m, ":") {
			return s, fmt.Errorf("smtp_sasl_mechanism_filter: %s: tern takes mechanism names, not tables", m)
		}
		s.authMechs = append(s.authMechs, strings.ToUpper(m))
	}
	if !lmtp && cfg.Bool("smtp_tls_wrappermode") {
		if s.tlsLevel == client.TLSNone || s.tlsLevel == "" {
			return s, fmt.Errorf("smtp_tls_wrappermode = yes needs smtp_tls_security_level = encrypt or stronger")
		}
		s.wrapperMode = true
	}
	for _, hop := range cfg.List("smtp_fallback_relay") {
		d, err := parseNexthop(hop, false, s.port, s.queueDir)
		if err != nil {
			return s, fmt.Errorf("smtp_fallback_relay: %s: %w", hop, err)
		}
		s.fallback = append(s.fallback, d)
	}
	if s.tlsMin, err = tlsconf.MinVersion("smtp_tls_protocols", cfg.Get("smtp_tls_protocols")); err != nil {
		return s, err
	}
	if s.tlsMandatoryMin, err = tlsconf.MinVersion("smtp_tls_mandatory_protocols", cfg.Get("smtp_tls_mandatory_protocols")); err != nil {
		return s, err
	}
	for _, o := range []struct {
		dst  *sasl.Policy
		name string
	}{{&s.authPolicy, "smtp_sasl_security_options"}, {&s.authTLSPolicy, "smtp_sasl_tls_security_options"}} {
		if *o.dst, err = sasl.ParsePolicy(cfg.List(o.name)); err != nil {
			return s, fmt.Errorf("%s: %w", o.name, err)
		}
	}
	opt := maps.Options{ConfigDir: configDir}
	if s.tlsPolicy, err = openList(cfg, "smtp_tls_policy_maps", opt); err != nil {
		return s, err
	}
	if s.saslPasswords, err = openList(cfg, p+"sasl_password_maps", opt); err != nil {
		return s, err
	}
	if !lmtp {
		open := func(list string) ([]maps.Map, error) {
			ms, _, err := maps.OpenSpecList(list, opt)
			return ms, err
		}
		if s.generic, err = rewrite.GenericFromConfig(cfg.Get, open); err != nil {
			return s, err
		}
		if s.checks, err = openSMTPChecks(cfg, opt); err != nil {
			return s, err
		}
	}
	if strings.TrimSpace(cfg.Get(p+"tls_session_cache_database")) != "" {
		s.sessions = tls.NewLRUClientSessionCache(tlsSessionCacheSize)
		s.checkedSessions = tls.NewLRUClientSessionCache(tlsSessionCacheSize)
	}
	if s.clientCerts, err = clientCertificates(cfg); err != nil {
		return s, err
	}
	if s.rootCAs, err = tlsconf.CertPool(cfg.Get("smtp_tls_CAfile"), cfg.Get("smtp_tls_CApath"), cfg.Bool("tls_append_default_CA")); err != nil {
		return s, fmt.Errorf("smtp_tls_CAfile, smtp_tls_CApath: %w", err)
	}
	if s.rootCAs == nil {
		// The system's authorities, read now: crypto/tls would read them
		// at the first verification, when a chrooted smtp (master.cf's
		// chroot column) no longer reaches /etc/ssl/certs.
		if sys, err := x509.SystemCertPool(); err == nil {
			s.rootCAs = sys
		}
	}
	return s, nil
}

// tlsSessionCacheSize is how many TLS sessions each cache keeps: one per
// server name, enough for the busy destinations of a large site.
const tlsSessionCacheSize = 1000

func openList(cfg *config.Config, param string, opt maps.Options) ([]maps.Map, error) {
	if strings.TrimSpace(cfg.Get(param)) == "" {
		return nil, nil
	}
	list, _, err := maps.OpenSpecList(cfg.Get(param), opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	return list, nil
}

// tlsLevel is smtp_tls_security_level, or what the obsolete
// smtp_enforce_tls and smtp_use_tls say when it is empty.
func tlsLevel(cfg *config.Config, prefix string) (client.TLSLevel, error) {
	v := strings.ToLower(cfg.Get(prefix + "tls_security_level"))
	if v == "" && prefix == "smtp_" {
		switch {
		case cfg.Bool("smtp_enforce_tls") && cfg.Bool("smtp_tls_enforce_peername"):
			v = "verify"
		case cfg.Bool("smtp_enforce_tls"):
			v = "encrypt" // smtp_tls_enforce_peername = no
		case cfg.Bool("smtp_use_tls"):
			v = "may"
		default:
			v = "none"
		}
	}
	if v == "" {
		v = "none"
	}
	switch v {
	case "none", "may", "encrypt", "verify", "secure", "fingerprint", "dane", "dane-only":
		return client.TLSLevel(v), nil
	}
	return "", fmt.Errorf("%stls_security_level: unknown level %q", prefix, v)
}

// lookupKeys are the keys Postfix tries for a next hop in per-destination
// tables: the next hop as written, then the bare host.
func lookupKeys(d destination) []string {
	port := strconv.Itoa(d.port)
	if d.mx {
		return []string{d.host + ":" + port, d.host}
	}
	return []string{"[" + d.host + "]:" + port, "[" + d.host + "]", d.host}
}

func lookupFirst(tables []maps.Map, keys []string) (string, bool, error) {
	for _, k := range keys {
		v, found, err := maps.LookupFirst(tables, k)
		if err != nil || found {
			return v, found, err
		}
	}
	return "", false, nil
}

// sessionOptions are the client options for one server of dest.
func (a *Agent) sessionOptions(dest destination, t target) (client.Options, error) {
	opt := client.Options{Helo: a.set.helo, LMTP: a.set.lmtp, TLSLevel: a.set.tlsLevel, Timeouts: a.set.timeouts,
		AuthSoftBounce: a.set.authSoftBounce, LineLengthLimit: a.set.lineLimit, HeloUnlessESMTP: a.set.heloUnlessESMTP,
		NeverEHLO: a.set.neverEHLO, SkipQuitResponse: a.set.skipQuitReply,
		PerRequestDeadline: a.set.perRequest, MinDataRate: a.set.minDataRate,
		AuthPolicy: a.set.authPolicy, AuthTLSPolicy: a.set.authTLSPolicy, AuthMechanisms: a.set.authMechs,
		NoDowngrade: a.set.noDowngrade}
	var matches []string
	if dest.network == "unix" {
		opt.TLSLevel = "none"
	} else if v, found, err := lookupFirst(a.set.tlsPolicy, lookupKeys(dest)); err != nil {
		return opt, fmt.Errorf("smtp_tls_policy_maps: %w", err)
	} else if found {
		pol := parsePolicy(v)
		switch pol.level {
		case "none", "may", "encrypt", "verify", "secure", "fingerprint", "dane", "dane-only":
			opt.TLSLevel = client.TLSLevel(pol.level)
		default:
			return opt, fmt.Errorf("smtp_tls_policy_maps: %s: unsupported policy %q", dest.key(), pol.level)
		}
		matches = pol.matches
		a.warnIgnored(dest, pol)
	}
	opt.TLSConfig = a.levelConfig(opt.TLSLevel, dest, t, matches)
	opt.Auth = dest.auth
	opt.Trace = a.trace(t)
	opt.DiscardEHLO = a.discardedKeywords(t)
	return opt, nil
}

// discardedKeywords are the EHLO keywords to ignore from server t: what
// smtp_discard_ehlo_keyword_address_maps gives for its address, else
// smtp_discard_ehlo_keywords.
func (a *Agent) discardedKeywords(t target) map[string]bool {
	if len(a.set.discardEHLOMaps) == 0 {
		return a.set.discardEHLO
	}
	ap, err := netip.ParseAddrPort(t.addr)
	if err != nil {
		return a.set.discardEHLO
	}
	v, found, err := maps.LookupFirst(a.set.discardEHLOMaps, ap.Addr().Unmap().String())
	if err != nil && a.log != nil {
		a.log.Warnf("smtp_discard_ehlo_keyword_address_maps: %v", err)
	}
	if !found {
		return a.set.discardEHLO
	}
	return keywordSet(v)
}

// keywordSet is a list of EHLO keywords as a set, upper case.
func keywordSet(v string) map[string]bool {
	words := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(words) == 0 {
		return nil
	}
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[strings.ToUpper(w)] = true
	}
	return set
}

// trace is the conversation log of a server in debug_peer_list, as
// Postfix's verbose smtp writes it ("> mx.example.com[192.0.2.1]:25: EHLO
// ..."); nil for other servers.
func (a *Agent) trace(t target) func(dir byte, line string) {
	if a.set.debugPeers == nil || a.log == nil {
		return nil
	}
	var addr netip.Addr
	if ap, err := netip.ParseAddrPort(t.addr); err == nil {
		addr = ap.Addr()
	}
	ok, err := a.set.debugPeers.Match(t.name, addr)
	if err != nil {
		a.log.Warnf("debug_peer_list: %v", err)
	}
	if !ok {
		return nil
	}
	peer := t.peer()
	return func(dir byte, line string) { a.log.Infof("%c %s: %s", dir, peer, line) }
}

// levelConfig is the TLS configuration of a level for server t; nil for
// none, and for the dane levels, which settleDANE resolves per server.
// matches are the policy's match= values: fingerprints for the
// fingerprint level, name strategies for verify and secure.
func (a *Agent) levelConfig(level client.TLSLevel, dest destination, t target, matches []string) *tls.Config {
	var c *tls.Config
	switch level {
	case client.TLSFingerprint:
		if len(matches) == 0 {
			matches = a.set.fingerprints
		}
		c = a.fingerprintConfig(t, matches)
	case client.TLSVerify, client.TLSSecure:
		c = a.verifyConfig(level, dest, t, matches)
	case client.TLSEncrypt:
		// Mandatory-unauthenticated and opportunistic TLS do not check
		// the certificate, as in Postfix.
		c = &tls.Config{ServerName: t.name, InsecureSkipVerify: true, MinVersion: a.set.tlsMandatoryMin, //nolint:gosec
			ClientSessionCache: a.set.sessions}
	case client.TLSMay:
		c = &tls.Config{ServerName: t.name, InsecureSkipVerify: true, MinVersion: a.set.tlsMin, //nolint:gosec
			ClientSessionCache: a.set.sessions}
	default:
		return nil
	}
	c.ServerName = a.serverName(dest, t)
	c.Certificates = a.set.clientCerts
	c.CipherSuites = a.set.mandatorySuites
	if level == client.TLSMay {
		c.CipherSuites = a.set.suites
	}
	return c
}

// serverName is the name sent in the TLS SNI extension to server t of
// dest (smtp_tls_servername): hostname, the server's name (tern's
// default; Postfix's is empty, no SNI), nexthop, the next-hop domain, an
// empty value for none, or any other name as it is. The certificate
// checks do not use it.
func (a *Agent) serverName(dest destination, t target) string {
	switch v := a.set.tlsServerName; strings.ToLower(v) {
	case "hostname":
		return t.name
	case "nexthop":
		return dest.host
	default:
		return v
	}
}

// clientSuites are the cipher suites of opportunistic and of mandatory
// TLS: the explicit lists of the smtp_tls_ciphers and
// smtp_tls_mandatory_ciphers grades, less smtp_tls_exclude_ciphers (and,
// for mandatory TLS, smtp_tls_mandatory_exclude_ciphers), as far as tern
// can honour them (nil: Go's).
func clientSuites(cfg *config.Config) (may, mandatory []uint16) {
	suites := func(grade string, excl ...string) []uint16 {
		if !tlsconf.GradeUsable(grade) {
			return nil
		}
		return tlsconf.Suites(cfg.Get("tls_"+strings.ToLower(strings.TrimSpace(grade))+"_cipherlist"), excl...)
	}
	excl := cfg.Get("smtp_tls_exclude_ciphers")
	return suites(cfg.Get("smtp_tls_ciphers"), excl),
		suites(cfg.Get("smtp_tls_mandatory_ciphers"), excl, cfg.Get("smtp_tls_mandatory_exclude_ciphers"))
}

// credentials looks the login for a delivery up in
// smtp_sasl_password_maps: with smtp_sender_dependent_authentication the
// sender address (without and with its address extension) and @domain
// first, then the next hop. nil when SASL is off or nothing is found.
func (a *Agent) credentials(dest destination, sender string) (*client.Auth, error) {
	if !a.set.saslEnable || len(a.set.saslPasswords) == 0 {
		return nil, nil
	}
	var keys []string
	if a.set.senderAuth && sender != "" {
		keys = []string{sender}
		if i := strings.LastIndexByte(sender, '@'); i > 0 {
			keys = maps.AddressKeys(sender[:i], sender[i+1:], a.set.delimiter, false)
		}
	}
	v, found, err := lookupFirst(a.set.saslPasswords, append(keys, lookupKeys(dest)...))
	if err != nil {
		return nil, fmt.Errorf("smtp_sasl_password_maps: %w", err)
	}
	if !found {
		return nil, nil
	}
	user, pass, _ := strings.Cut(v, ":")
	return &client.Auth{User: user, Password: pass}, nil
}

// clientCertificates loads the client's certificates: smtp_tls_chain_files
// (each file a private key followed by its certificate chain, as Postfix
// 3.4 has them), else smtp_tls_cert_file with smtp_tls_key_file and
// smtp_tls_eccert_file with smtp_tls_eckey_file.
func clientCertificates(cfg *config.Config) ([]tls.Certificate, error) {
	return tlsconf.LoadCertificates(tlsconf.CertSettings{Prefix: "smtp", Chain: cfg.List("smtp_tls_chain_files"),
		Cert: cfg.Get("smtp_tls_cert_file"), Key: cfg.Get("smtp_tls_key_file"),
		ECCert: cfg.Get("smtp_tls_eccert_file"), ECKey: cfg.Get("smtp_tls_eckey_file")})
}
