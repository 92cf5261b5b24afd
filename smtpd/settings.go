package smtpd

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/domainlist"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/netlist"
	"github.com/tern-mta/tern/pkg/peerlist"
	"github.com/tern-mta/tern/pkg/sasl"
)

// settings are the main.cf parameters one smtpd service runs with.
type settings struct {
	hostname string
	// milterDaemonName and milterVersion are milter_macro_daemon_name
	// and milter_macro_v: the {daemon_name} and {v} macros milters get.
	milterDaemonName, milterVersion string
	banner                          string
	queueDir                        string
	wrapperMode                     bool   // smtpd_tls_wrappermode: TLS from the first byte (port 465)
	tlsLevel                        string // none, may or encrypt
	authOnlyTLS                     bool
	saslService                     string
	saslResponseLimit               int // smtpd_sasl_response_limit
	brokenAuthClients               bool
	vrfyDisabled                    bool
	heloRequired                    bool
	smtputf8                        bool
	// strictSMTPUTF8 is smtputf8_enable and strict_smtputf8: a non-ASCII
	// address needs MAIL FROM ... SMTPUTF8 (553 5.6.7 otherwise).
	strictSMTPUTF8         bool
	sizeLimit              int64
	recipientLimit         int
	overshootLimit         int // smtpd_recipient_overshoot_limit
	lineLimit              int
	softErrorLimit         int
	notice                 noticeSettings  // notify_classes: postmaster transcripts
	forbidUnauthPipelining bool            // smtpd_forbid_unauth_pipelining
	debugPeers             *peerlist.List  // debug_peer_list: clients whose conversation is logged
	noopCommands           map[string]bool // smtpd_noop_commands, upper case
	errorSleep             time.Duration
	bareLF                 bareLFPolicy
	bareLFCode             int
	bareLFExempt           *netlist.List // smtpd_forbid_bare_newline_exclusions
	forbidden              commandList   // smtpd_forbidden_commands
	// screenForbidden is postscreen_forbidden_commands, the commands of
	// postscreen's non-SMTP command test (by default the same).
	screenForbidden        commandList
	discardEhlo            map[string]bool
	discardEhloMaps        []maps.Map // smtpd_discard_ehlo_keyword_address_maps
	peernameLookup         bool
	tlsReceived            bool
	saslHeader             bool // smtpd_sasl_authenticated_header
	clientPortLogging      bool // smtpd_client_port_logging
	connCountLimit         int
	connRateLimit          int
	msgRateLimit           int
	rcptRateLimit          int // smtpd_client_recipient_rate_limit
	authRateLimit          int // smtpd_client_auth_rate_limit
	tlsRateLimit           int // smtpd_client_new_tls_session_rate_limit
	rateUnit               time.Duration
	limitExempt            *netlist.List    // smtpd_client_event_limit_exceptions
	saslExceptions         *netlist.List    // smtpd_sasl_exceptions_networks: clients offered no AUTH
	xforwardHosts          *netlist.List    // smtpd_authorized_xforward_hosts: clients offered XFORWARD
	xclientHosts           *netlist.List    // smtpd_authorized_xclient_hosts: clients offered XCLIENT
	verpClients            *netlist.List    // smtpd_authorized_verp_clients: clients offered XVERP
	verpDelims, verpFilter string           // default_verp_delimiters, verp_delimiter_filter
	fastFlush              *domainlist.List // fast_flush_domains: domains ETRN may flush
	commandFilter          []maps.Map       // smtpd_command_filter; nil: none
	// proxyProtocol is smtpd_upstream_proxy_protocol = haproxy: each
	// connection starts with a PROXY header naming the real client,
	// read within proxyTimeout (smtpd_upstream_proxy_timeout).
	proxyProtocol bool
	proxyTimeout  time.Duration // smtpd_upstream_proxy_timeout
	// proxy is smtpd_proxy_filter, the before-queue content filter (nil:
	// none), with filterTimeout (smtpd_proxy_timeout) and proxyEhlo
	// (smtpd_proxy_ehlo).
	proxy         *proxyTarget
	filterTimeout time.Duration
	proxyEhlo     string
	// proxySpeedAdjust is smtpd_proxy_options = speed_adjust: the filter
	// gets the transaction only once the whole message is in.
	proxySpeedAdjust bool
	myNetworks       *netlist.List
	mxBackupNetworks *netlist.List       // permit_mx_backup_networks
	ownAddrs         map[netip.Addr]bool // inet_interfaces and proxy_interfaces
	inetAddrs        map[netip.Addr]bool // inet_interfaces
	strictEnvelopes  bool                // strict_rfc821_envelopes: paths need angle brackets
	allowMinUser     bool                // allow_min_user: an address may begin with "-"
	tlsLogLevel      int                 // smtpd_tls_loglevel
	rejectFooter     string              // smtpd_reject_footer, unexpanded
	rejectFooterMaps []maps.Map          // smtpd_reject_footer_maps, by reply
	sniMaps          []maps.Map          // tls_server_sni_maps
	queueMinFree     int64               // queue_minfree
	ccert            clientCertSettings
	contentFilter    string          // content_filter: where this service's mail goes first
	receiveOverrides []string        // receive_override_options, passed to cleanup
	saslPolicy       sasl.Policy     // smtpd_sasl_security_options: mechanisms offered without TLS
	saslTLSPolicy    sasl.Policy     // smtpd_sasl_tls_security_options: mechanisms offered over TLS
	mechFilter       mechanismFilter // smtpd_sasl_mechanism_filter
}

// loadSettings reads the smtpd parameters from cfg.
func loadSettings(cfg *config.Config, opt maps.Options) (settings, error) {
	s := settings{
		hostname:               cfg.Get("myhostname"),
		milterDaemonName:       cfg.Get("milter_macro_daemon_name"),
		milterVersion:          cfg.Get("milter_macro_v"),
		banner:                 cfg.Get("smtpd_banner"),
		queueDir:               cfg.Get("queue_directory"),
		wrapperMode:            cfg.Bool("smtpd_tls_wrappermode"),
		authOnlyTLS:            cfg.Bool("smtpd_tls_auth_only"),
		saslService:            cfg.Get("smtpd_sasl_service"),
		saslResponseLimit:      max(cfg.Int("smtpd_sasl_response_limit"), 512),
		brokenAuthClients:      cfg.Bool("broken_sasl_auth_clients"),
		vrfyDisabled:           cfg.Bool("disable_vrfy_command"),
		heloRequired:           cfg.Bool("smtpd_helo_required"),
		smtputf8:               cfg.Bool("smtputf8_enable"),
		strictSMTPUTF8:         cfg.Bool("smtputf8_enable") && cfg.Bool("strict_smtputf8"),
		sizeLimit:              cfg.Int64("message_size_limit"),
		recipientLimit:         cfg.Int("smtpd_recipient_limit"),
		overshootLimit:         cfg.Int("smtpd_recipient_overshoot_limit"),
		lineLimit:              cfg.Int("line_length_limit"),
		softErrorLimit:         cfg.Int("smtpd_soft_error_limit"),
		forbidUnauthPipelining: cfg.Bool("smtpd_forbid_unauth_pipelining"),
		errorSleep:             cfg.Duration("smtpd_error_sleep_time"),
		bareLFCode:             cfg.Int("smtpd_forbid_bare_newline_reject_code"),
		peernameLookup:         cfg.Bool("smtpd_peername_lookup"),
		tlsReceived:            cfg.Bool("smtpd_tls_received_header"),
		saslHeader:             cfg.Bool("smtpd_sasl_authenticated_header"),
		clientPortLogging:      cfg.Bool("smtpd_client_port_logging"),
		connCountLimit:         cfg.Int("smtpd_client_connection_count_limit"),
		connRateLimit:          cfg.Int("smtpd_client_connection_rate_limit"),
		msgRateLimit:           cfg.Int("smtpd_client_message_rate_limit"),
		rcptRateLimit:          cfg.Int("smtpd_client_recipient_rate_limit"),
		authRateLimit:          cfg.Int("smtpd_client_auth_rate_limit"),
		tlsRateLimit:           cfg.Int("smtpd_client_new_tls_session_rate_limit"),
		rateUnit:               cfg.Duration("anvil_rate_time_unit"),
		discardEhlo:            map[string]bool{},
		contentFilter:          strings.TrimSpace(cfg.Get("content_filter")),
		ownAddrs:               netlist.OwnAddrs(cfg.List("inet_interfaces"), cfg.List("proxy_interfaces")),
		inetAddrs:              netlist.OwnAddrs(cfg.List("inet_interfaces")),
		strictEnvelopes:        cfg.Bool("strict_rfc821_envelopes"),
		allowMinUser:           cfg.Bool("allow_min_user"),
		verpDelims:             cfg.Get("default_verp_delimiters"),
		verpFilter:             cfg.Get("verp_delimiter_filter"),
		tlsLogLevel:            cfg.Int("smtpd_tls_loglevel"),
		rejectFooter:           strings.TrimSpace(cfg.Get("smtpd_reject_footer")),
		queueMinFree:           cfg.Int64("queue_minfree"),
		receiveOverrides:       cfg.List("receive_override_options"),
	}
	var err error
	if s.mechFilter, err = parseMechanismFilter(cfg.List("smtpd_sasl_mechanism_filter"), opt); err != nil {
		return s, err
	}
	if s.forbidden, err = loadCommandList("smtpd_forbidden_commands", cfg.Get("smtpd_forbidden_commands"), opt); err != nil {
		return s, err
	}
	if s.screenForbidden, err = loadCommandList("postscreen_forbidden_commands", cfg.Get("postscreen_forbidden_commands"), opt); err != nil {
		return s, err
	}
	s.notice = loadNoticeSettings(cfg)
	for _, c := range cfg.List("smtpd_noop_commands") {
		if s.noopCommands == nil {
			s.noopCommands = map[string]bool{}
		}
		s.noopCommands[strings.ToUpper(c)] = true
	}
	for _, k := range cfg.List("smtpd_discard_ehlo_keywords") {
		s.discardEhlo[strings.ToLower(k)] = true
	}
	// As Postfix: at least 1.5 times message_size_limit must be free.
	if floor := s.sizeLimit + s.sizeLimit/2; s.queueMinFree < floor {
		s.queueMinFree = floor
	}
	if s.recipientLimit <= 0 {
		s.recipientLimit = 1000
	}
	if s.lineLimit < 512 {
		s.lineLimit = 512 // RFC 5321 section 4.5.3.1.4: at least 512
	}
	if s.tlsLevel, err = tlsLevel(cfg); err != nil {
		return s, err
	}
	if s.ccert, err = loadClientCertSettings(cfg); err != nil {
		return s, err
	}
	if s.saslPolicy, err = sasl.ParsePolicy(cfg.List("smtpd_sasl_security_options")); err != nil {
		return s, fmt.Errorf("smtpd_sasl_security_options: %w", err)
	}
	if s.saslTLSPolicy, err = sasl.ParsePolicy(cfg.List("smtpd_sasl_tls_security_options")); err != nil {
		return s, fmt.Errorf("smtpd_sasl_tls_security_options: %w", err)
	}
	switch v := strings.ToLower(cfg.Get("smtpd_forbid_bare_newline")); v {
	case "normalize", "yes", "no", "":
		s.bareLF = bareLFNormalize
	case "reject":
		s.bareLF = bareLFReject
	default:
		return s, fmt.Errorf("smtpd_forbid_bare_newline: unknown value %q (normalize, reject or no)", v)
	}
	for _, l := range []struct {
		dst  **netlist.List
		name string
	}{
		{&s.myNetworks, "mynetworks"},
		{&s.bareLFExempt, "smtpd_forbid_bare_newline_exclusions"},
		{&s.limitExempt, "smtpd_client_event_limit_exceptions"},
		{&s.mxBackupNetworks, "permit_mx_backup_networks"},
		{&s.saslExceptions, "smtpd_sasl_exceptions_networks"},
		{&s.xforwardHosts, "smtpd_authorized_xforward_hosts"},
		{&s.xclientHosts, "smtpd_authorized_xclient_hosts"},
		{&s.verpClients, "smtpd_authorized_verp_clients"},
	} {
		if *l.dst, err = netlist.New(l.name, cfg.List(l.name), opt); err != nil {
			return s, err
		}
	}
	parents := cfg.List("parent_domain_matches_subdomains")
	if s.debugPeers, err = peerlist.New("debug_peer_list", cfg.List("debug_peer_list"), slices.Contains(parents, "debug_peer_list"), opt); err != nil {
		return s, err
	}
	parent := slices.Contains(parents, "fast_flush_domains")
	if s.fastFlush, err = domainlist.New("fast_flush_domains", cfg.List("fast_flush_domains"), parent, opt); err != nil {
		return s, err
	}
	switch v := strings.TrimSpace(cfg.Get("smtpd_upstream_proxy_protocol")); v {
	case "":
	case "haproxy":
		s.proxyProtocol, s.proxyTimeout = true, cfg.Duration("smtpd_upstream_proxy_timeout")
	default:
		return s, fmt.Errorf("smtpd_upstream_proxy_protocol: unknown protocol %q (haproxy or empty)", v)
	}
	if s.sniMaps, _, err = maps.OpenSpecList(cfg.Get("tls_server_sni_maps"), opt); err != nil {
		return s, fmt.Errorf("tls_server_sni_maps: %w", err)
	}
	if s.rejectFooterMaps, _, err = maps.OpenSpecList(cfg.Get("smtpd_reject_footer_maps"), opt); err != nil {
		return s, fmt.Errorf("smtpd_reject_footer_maps: %w", err)
	}
	if s.discardEhloMaps, _, err = maps.OpenSpecList(cfg.Get("smtpd_discard_ehlo_keyword_address_maps"), opt); err != nil {
		return s, fmt.Errorf("smtpd_discard_ehlo_keyword_address_maps: %w", err)
	}
	if s.commandFilter, _, err = maps.OpenSpecList(cfg.Get("smtpd_command_filter"), opt); err != nil {
		return s, fmt.Errorf("smtpd_command_filter: %w", err)
	}
	if s.proxy, err = parseProxyFilter(cfg.Get("smtpd_proxy_filter"), s.queueDir); err != nil {
		return s, err
	}
	s.filterTimeout, s.proxyEhlo = cfg.Duration("smtpd_proxy_timeout"), cfg.Get("smtpd_proxy_ehlo")
	for _, o := range cfg.List("smtpd_proxy_options") {
		if !strings.EqualFold(o, "speed_adjust") {
			return s, fmt.Errorf("smtpd_proxy_options: unknown option %q (speed_adjust)", o)
		}
		s.proxySpeedAdjust = true
	}
	if s.filterTimeout <= 0 {
		s.filterTimeout = 100 * time.Second
	}
	return s, nil
}

// tlsLevel is smtpd_tls_security_level, or what the obsolete
// smtpd_enforce_tls and smtpd_use_tls say when it is empty, as in Postfix.
func tlsLevel(cfg *config.Config) (string, error) {
	switch v := strings.ToLower(cfg.Get("smtpd_tls_security_level")); v {
	case "none", "may", "encrypt":
		return v, nil
	case "":
	default:
		return "", fmt.Errorf("smtpd_tls_security_level: unknown level %q (none, may or encrypt)", v)
	}
	switch {
	case cfg.Bool("smtpd_enforce_tls"):
		return "encrypt", nil
	case cfg.Bool("smtpd_use_tls"):
		return "may", nil
	}
	return "none", nil
}
