package restrict

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
)

// The restriction lists of one smtpd service, in evaluation order.
const (
	listClient = iota
	listHelo
	listSender
	listRelay
	listRecipient
	listData
	listEOD
	listEtrn
	numLists
)

// listParams names the parameter of each list.
var listParams = [numLists]string{
	"smtpd_client_restrictions", "smtpd_helo_restrictions", "smtpd_sender_restrictions",
	"smtpd_relay_restrictions", "smtpd_recipient_restrictions",
	"smtpd_data_restrictions", "smtpd_end_of_data_restrictions",
	"smtpd_etrn_restrictions",
}

// kind is what a restriction does.
type kind int

const (
	kPermit kind = iota
	kReject
	kDefer
	kDeferIfPermit
	kDeferIfReject
	kWarnIfReject
	kPermitMynetworks
	kPermitSASL
	kPermitAuthDest
	kRejectUnauthDest
	kDeferUnauthDest
	kRejectUnauthPipelining
	kRejectPlaintext
	kRejectNonFQDNHelo
	kRejectInvalidHelo
	kRejectUnknownHelo
	kRejectNonFQDNSender
	kRejectNonFQDNRcpt
	kRejectUnknownSenderDomain
	kRejectUnknownRcptDomain
	kRejectUnlistedSender
	kRejectUnlistedRcpt
	kRejectUnverifiedSender
	kRejectUnverifiedRcpt
	kCheckEtrn
	kRejectUnknownClient
	kRejectUnknownReverseClient
	kRejectMultiRcptBounce
	kRejectSenderLoginMismatch      // both of the next two
	kRejectAuthSenderLoginMismatch  // authenticated clients: sender not theirs
	kRejectKnownSenderLoginMismatch // both, for senders with an owner only
	kRejectUnauthSenderLoginMismatch
	kCheckClient
	kCheckReverseClient
	kCheckHelo
	kCheckSender
	kCheckRcpt
	kCheckSASL
	kCheckPolicy // check_policy_service: a policy server's access(5) action
	kRejectRBLClient
	kRejectRHSBLClient
	kRejectRHSBLReverseClient
	kRejectRHSBLHelo
	kRejectRHSBLSender
	kRejectRHSBLRecipient
	kPermitDNSWLClient
	kPermitRHSWLClient
	kCheckServers // check_*_{mx,ns,a}_access (servers.go)
	kPermitMXBackup
	kPermitInetInterfaces
	kPermitTLSClientCerts    // a client certificate listed in relay_clientcerts
	kPermitTLSAllClientCerts // any trusted client certificate
	kCheckCCert              // check_ccert_access
	kSleep                   // sleep seconds: pause, then go on
	kImplicitMap             // a bare type:name: the list's own check_*_access
	kClass                   // a smtpd_restriction_classes name
)

// deps a restriction needs.
const (
	needMap = 1 << iota
	needLocal
	needKnown
	needDNS
	needMyNet
	needLogin
	needPolicy
	needDNSList
	needServers
	needOwn
	needInet
	needVerify
)

// wordInfo describes one built-in restriction.
type wordInfo struct {
	kind    kind
	table   bool // takes a type:name argument
	service bool // takes a policy server: inet:host:port or unix:path
	dnsList bool // takes a DNS list: domain[=d.d.d.d]
	seconds bool // takes a number of seconds
	needs   int
}

// builtins maps restriction names (lower case) to what they do. Older
// Postfix names are aliases of the current ones.
var builtins = map[string]wordInfo{
	"permit":                                       {kind: kPermit},
	"reject":                                       {kind: kReject},
	"defer":                                        {kind: kDefer},
	"defer_if_permit":                              {kind: kDeferIfPermit},
	"defer_if_reject":                              {kind: kDeferIfReject},
	"warn_if_reject":                               {kind: kWarnIfReject},
	"permit_mynetworks":                            {kind: kPermitMynetworks, needs: needMyNet},
	"permit_sasl_authenticated":                    {kind: kPermitSASL},
	"permit_auth_destination":                      {kind: kPermitAuthDest, needs: needLocal},
	"reject_unauth_destination":                    {kind: kRejectUnauthDest, needs: needLocal},
	"defer_unauth_destination":                     {kind: kDeferUnauthDest, needs: needLocal},
	"reject_unauth_pipelining":                     {kind: kRejectUnauthPipelining},
	"reject_plaintext_session":                     {kind: kRejectPlaintext},
	"reject_non_fqdn_helo_hostname":                {kind: kRejectNonFQDNHelo},
	"reject_non_fqdn_hostname":                     {kind: kRejectNonFQDNHelo},
	"reject_invalid_helo_hostname":                 {kind: kRejectInvalidHelo},
	"reject_invalid_hostname":                      {kind: kRejectInvalidHelo},
	"reject_unknown_helo_hostname":                 {kind: kRejectUnknownHelo, needs: needDNS},
	"reject_unknown_hostname":                      {kind: kRejectUnknownHelo, needs: needDNS},
	"reject_non_fqdn_sender":                       {kind: kRejectNonFQDNSender},
	"reject_non_fqdn_recipient":                    {kind: kRejectNonFQDNRcpt},
	"reject_unknown_sender_domain":                 {kind: kRejectUnknownSenderDomain, needs: needLocal | needDNS},
	"reject_unknown_address":                       {kind: kRejectUnknownSenderDomain, needs: needLocal | needDNS},
	"reject_unknown_recipient_domain":              {kind: kRejectUnknownRcptDomain, needs: needLocal | needDNS},
	"reject_unlisted_sender":                       {kind: kRejectUnlistedSender, needs: needLocal | needKnown},
	"reject_unlisted_recipient":                    {kind: kRejectUnlistedRcpt, needs: needLocal | needKnown},
	"check_recipient_maps":                         {kind: kRejectUnlistedRcpt, needs: needLocal | needKnown},
	"reject_unknown_client_hostname":               {kind: kRejectUnknownClient},
	"reject_unknown_client":                        {kind: kRejectUnknownClient},
	"reject_unknown_reverse_client_hostname":       {kind: kRejectUnknownReverseClient},
	"reject_multi_recipient_bounce":                {kind: kRejectMultiRcptBounce},
	"reject_sender_login_mismatch":                 {kind: kRejectSenderLoginMismatch, needs: needLogin},
	"reject_authenticated_sender_login_mismatch":   {kind: kRejectAuthSenderLoginMismatch, needs: needLogin},
	"reject_known_sender_login_mismatch":           {kind: kRejectKnownSenderLoginMismatch, needs: needLogin},
	"reject_unauthenticated_sender_login_mismatch": {kind: kRejectUnauthSenderLoginMismatch, needs: needLogin},
	"check_client_access":                          {kind: kCheckClient, table: true, needs: needMap},
	"check_reverse_client_hostname_access":         {kind: kCheckReverseClient, table: true, needs: needMap},
	"check_helo_access":                            {kind: kCheckHelo, table: true, needs: needMap},
	"check_sender_access":                          {kind: kCheckSender, table: true, needs: needMap | needLocal},
	"check_recipient_access":                       {kind: kCheckRcpt, table: true, needs: needMap | needLocal},
	"check_etrn_access":                            {kind: kCheckEtrn, table: true, needs: needMap},
	"check_sasl_access":                            {kind: kCheckSASL, table: true, needs: needMap},
	"check_policy_service":                         {kind: kCheckPolicy, service: true, needs: needPolicy},
	"permit_mx_backup":                             {kind: kPermitMXBackup, needs: needLocal | needServers | needOwn},
	"reject_rbl_client":                            {kind: kRejectRBLClient, dnsList: true, needs: needDNSList},
	"reject_rhsbl_client":                          {kind: kRejectRHSBLClient, dnsList: true, needs: needDNSList},
	"reject_rhsbl_reverse_client":                  {kind: kRejectRHSBLReverseClient, dnsList: true, needs: needDNSList},
	"reject_rhsbl_helo":                            {kind: kRejectRHSBLHelo, dnsList: true, needs: needDNSList},
	"reject_rhsbl_sender":                          {kind: kRejectRHSBLSender, dnsList: true, needs: needDNSList},
	"reject_rhsbl_recipient":                       {kind: kRejectRHSBLRecipient, dnsList: true, needs: needDNSList},
	"permit_dnswl_client":                          {kind: kPermitDNSWLClient, dnsList: true, needs: needDNSList | needLocal},
	"permit_rhswl_client":                          {kind: kPermitRHSWLClient, dnsList: true, needs: needDNSList | needLocal},
	"permit_inet_interfaces":                       {kind: kPermitInetInterfaces, needs: needInet},
	"reject_unverified_sender":                     {kind: kRejectUnverifiedSender, needs: needVerify},
	"reject_unverified_recipient":                  {kind: kRejectUnverifiedRcpt, needs: needVerify},
	"permit_tls_clientcerts":                       {kind: kPermitTLSClientCerts},
	"permit_tls_all_clientcerts":                   {kind: kPermitTLSAllClientCerts},
	"check_ccert_access":                           {kind: kCheckCCert, table: true, needs: needMap},
	"sleep":                                        {kind: kSleep, seconds: true},
}

// unsupported lists Postfix restrictions that tern does not implement
// yet; naming one is a configuration error rather than a silent no-op.
var unsupported = map[string]bool{
	"reject_rbl": true, "reject_maps_rbl": true,
	"check_relay_domains":     true,
	"permit_naked_ip_address": true,
}

// maxSleep bounds the seconds of "sleep": a longer pause only holds a
// connection open (Postfix's smtpd_timeout is 300s).
const maxSleep = 300

// step is one compiled restriction.
type step struct {
	word  string // the name as written, for Result.Restriction and logs
	kind  kind
	table string // type:name of check_*_access
	class string // class name of kClass
	list  *dnsList
	// policy is check_policy_service's server and settings.
	policy *policyStep
	pause  time.Duration // of sleep
}

// list is one compiled restriction list.
type list struct {
	param string
	steps []step
}

// splitWords splits a restriction list at commas and whitespace, keeping
// text inside braces (inline:{ a=b, c=d }) in one word.
func splitWords(s string) []string {
	var out []string
	depth, start := 0, -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case depth == 0 && (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// compile parses every list and restriction class and opens their tables.
func (c *Checker) compile(cfg *config.Config) error {
	classNames := splitWords(param(cfg, "smtpd_restriction_classes"))
	for _, name := range classNames {
		c.classes[name] = nil
	}
	for _, name := range classNames {
		if _, clash := builtins[strings.ToLower(name)]; clash {
			return fmt.Errorf("smtpd_restriction_classes: class name %q is a built-in restriction", name)
		}
		value := param(cfg, name)
		if strings.TrimSpace(value) == "" {
			return fmt.Errorf("smtpd_restriction_classes: restriction class %q needs a definition", name)
		}
		l, err := c.compileList(name, value, -1)
		if err != nil {
			return err
		}
		c.classes[name] = l
	}
	if err := c.checkClassCycles(); err != nil {
		return err
	}
	for i, name := range listParams {
		l, err := c.compileList(name, param(cfg, name), i)
		if err != nil {
			return err
		}
		c.lists[i] = l
	}
	for _, spec := range c.set.rblReplyMaps {
		if err := c.openTable("rbl_reply_maps", "rbl_reply_maps", spec); err != nil {
			return err
		}
	}
	for _, spec := range c.set.relayClientCerts {
		if err := c.openTable("relay_clientcerts", "relay_clientcerts", spec); err != nil {
			return err
		}
	}
	if !c.hasRequired(c.lists[listRelay].steps, map[string]bool{}) &&
		!c.hasRequired(c.lists[listRecipient].steps, map[string]bool{}) {
		return errors.New("in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, " +
			"specify at least one working instance of: reject_unauth_destination, defer_unauth_destination, " +
			"reject, defer or defer_if_permit (refusing to run an open relay)")
	}
	return c.checkDomainDeps(cfg)
}

// compileList parses one list; idx is its list index, or -1 for a class.
func (c *Checker) compileList(paramName, value string, idx int) (*list, error) {
	l := &list{param: paramName}
	words := splitWords(value)
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.Contains(w, ":") || strings.HasPrefix(w, "{") {
			if idx == listData || idx == listEOD {
				return nil, fmt.Errorf("%s: table %q needs check_client_access, check_helo_access, check_sender_access or check_recipient_access in front", paramName, w)
			}
			if err := c.openTable(paramName, w, w); err != nil {
				return nil, err
			}
			l.steps = append(l.steps, step{word: w, kind: kImplicitMap, table: w})
			continue
		}
		info, ok := builtins[strings.ToLower(w)]
		if _, server := serverChecks[strings.ToLower(w)]; server {
			info, ok = wordInfo{kind: kCheckServers, table: true, needs: needMap | needServers}, true
		}
		switch {
		case ok && info.service:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("%s: restriction %q needs a policy server: inet:host:port or unix:/path (unix:private/name is in queue_directory)", paramName, w)
			}
			ps, err := parsePolicyArg(words[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s: restriction %q: %w", paramName, w, err)
			}
			if err := c.checkNeeds(paramName, w, info.needs); err != nil {
				return nil, err
			}
			l.steps = append(l.steps, step{word: w, kind: info.kind, table: ps.svc.Addr, policy: ps})
			i++
		case ok && info.dnsList:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("%s: restriction %q needs a DNS list domain argument", paramName, w)
			}
			dl, err := parseDNSList(words[i+1])
			if err != nil {
				return nil, fmt.Errorf("%s: restriction %q: %w", paramName, w, err)
			}
			if err := c.checkNeeds(paramName, w, info.needs); err != nil {
				return nil, err
			}
			l.steps = append(l.steps, step{word: w, kind: info.kind, list: dl})
			i++
		case ok && info.seconds:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("%s: restriction %q needs a number of seconds", paramName, w)
			}
			n, err := strconv.Atoi(words[i+1])
			if err != nil || n < 0 || n > maxSleep {
				return nil, fmt.Errorf("%s: restriction %q: bad number of seconds %q (0 to %d)", paramName, w, words[i+1], maxSleep)
			}
			l.steps = append(l.steps, step{word: w, kind: info.kind, pause: time.Duration(n) * time.Second})
			i++
		case ok && info.table:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("%s: restriction %q needs a type:name argument", paramName, w)
			}
			arg := words[i+1]
			if !strings.Contains(arg, ":") {
				return nil, fmt.Errorf("%s: restriction %q: bad argument %q: need maptype:mapname", paramName, w, arg)
			}
			if err := c.checkNeeds(paramName, w, info.needs); err != nil {
				return nil, err
			}
			if err := c.openTable(paramName, w, arg); err != nil {
				return nil, err
			}
			l.steps = append(l.steps, step{word: w, kind: info.kind, table: arg})
			i++
		case ok:
			if err := c.checkNeeds(paramName, w, info.needs); err != nil {
				return nil, err
			}
			l.steps = append(l.steps, step{word: w, kind: info.kind})
		default:
			if _, isClass := c.classes[w]; isClass {
				l.steps = append(l.steps, step{word: w, kind: kClass, class: w})
				continue
			}
			if unsupported[strings.ToLower(w)] {
				return nil, fmt.Errorf("%s: restriction %q is not supported by tern", paramName, w)
			}
			return nil, fmt.Errorf("%s: unknown restriction %q", paramName, w)
		}
	}
	return l, nil
}

// validService reports a policy server address tern can query.
func validService(s string) bool {
	typ, addr, ok := strings.Cut(s, ":")
	return ok && addr != "" && (typ == "inet" && strings.Contains(addr, ":") || typ == "unix")
}

// checkNeeds reports a restriction whose dependency is missing.
func (c *Checker) checkNeeds(paramName, word string, needs int) error {
	missing := []struct {
		bit  int
		ok   bool
		what string
	}{
		{needMap, c.deps.OpenMap != nil, "a table opener (Deps.OpenMap), which this server does not provide"},
		{needLocal, c.deps.LocalDomain != nil, "a local domain lookup (Deps.LocalDomain), which this server does not provide"},
		{needKnown, c.deps.KnownRecipient != nil, "a recipient lookup (Deps.KnownRecipient), which this server does not provide"},
		{needDNS, c.deps.DomainResolves != nil, "a DNS lookup (Deps.DomainResolves), which this server does not provide"},
		{needMyNet, c.deps.MyNetworks != nil, "a mynetworks matcher (Deps.MyNetworks), which this server does not provide"},
		{needLogin, c.deps.SenderOwners != nil, "smtpd_sender_login_maps (the owners of sender addresses) to be set"},
		{needPolicy, c.deps.PolicyQuery != nil, "a policy client (Deps.PolicyQuery), which this server does not provide"},
		{needDNSList, c.deps.DNSList != nil, "a DNS list lookup (Deps.DNSList), which this server does not provide"},
		{needServers, c.deps.ServerHosts != nil, "an MX, NS and address lookup (Deps.ServerHosts), which this server does not provide"},
		{needOwn, c.deps.OwnAddr != nil, "this host's addresses (Deps.OwnAddr), which this server does not provide"},
		{needInet, c.deps.InetInterface != nil, "inet_interfaces addresses (Deps.InetInterface), which this server does not provide"},
		{needVerify, c.deps.Verify != nil, "address verification (Deps.Verify), which this server does not provide"},
	}
	for _, m := range missing {
		if needs&m.bit != 0 && !m.ok {
			return fmt.Errorf("%s: restriction %q needs %s", paramName, word, m.what)
		}
	}
	return nil
}

// openTable opens spec once and keeps it for the Checker's lifetime.
func (c *Checker) openTable(paramName, word, spec string) error {
	if _, ok := c.tables[spec]; ok {
		return nil
	}
	if c.deps.OpenMap == nil {
		return fmt.Errorf("%s: restriction %q needs a table opener (Deps.OpenMap), which this server does not provide", paramName, word)
	}
	m, err := c.deps.OpenMap(spec)
	if err != nil {
		return fmt.Errorf("%s: %s: open %s: %w", paramName, word, spec, err)
	}
	c.tables[spec] = m
	return nil
}

// checkDomainDeps makes sure that address classes configured in main.cf
// can be looked up when some restriction resolves addresses.
func (c *Checker) checkDomainDeps(cfg *config.Config) error {
	if c.deps.LocalDomain == nil {
		return nil // no restriction resolves addresses (checkNeeds saw to that)
	}
	if c.deps.RelayDomain == nil && strings.TrimSpace(cfg.Get("relay_domains")) != "" {
		return errors.New("relay_domains is set but no relay domain lookup (Deps.RelayDomain) was given")
	}
	if c.deps.VirtualDomain == nil && (strings.TrimSpace(cfg.Get("virtual_alias_domains")) != "" ||
		strings.TrimSpace(cfg.Get("virtual_mailbox_domains")) != "") {
		return errors.New("virtual domains are configured but no virtual domain lookup (Deps.VirtualDomain) was given")
	}
	return nil
}

// requiredKinds end a relay policy safely (Postfix's rcpt_required list).
var requiredKinds = map[kind]bool{kRejectUnauthDest: true, kDeferUnauthDest: true, kReject: true, kDefer: true, kDeferIfPermit: true}

// hasRequired reports whether steps contain a restriction that rejects
// unauthorised relaying, looking into classes; a permit before it ends
// the search, as in Postfix.
func (c *Checker) hasRequired(steps []step, seen map[string]bool) bool {
	for i := 0; i < len(steps); i++ {
		s := steps[i]
		switch {
		case s.kind == kWarnIfReject:
			i++ // the next restriction only warns
		case s.kind == kPermit:
			return false
		case requiredKinds[s.kind]:
			return true
		case s.kind == kClass && !seen[s.class]:
			seen[s.class] = true
			if l := c.classes[s.class]; l != nil && c.hasRequired(l.steps, seen) {
				return true
			}
		}
	}
	return false
}

// checkClassCycles rejects restriction classes that refer to themselves.
func (c *Checker) checkClassCycles() error {
	names := make([]string, 0, len(c.classes))
	for n := range c.classes {
		names = append(names, n)
	}
	sort.Strings(names)
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("smtpd_restriction_classes: class %q refers to itself", n)
		case 2:
			return nil
		}
		state[n] = 1
		for _, s := range c.classes[n].steps {
			if s.kind == kClass {
				if err := visit(s.class); err != nil {
					return err
				}
			}
		}
		state[n] = 2
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

// parseRuntime parses restriction words found in an access table result.
// Tables cannot be opened at this point, so only restrictions without a
// table argument and class names are allowed.
func (c *Checker) parseRuntime(value string) ([]step, error) {
	var steps []step
	for _, w := range splitWords(value) {
		if strings.Contains(w, ":") {
			return nil, fmt.Errorf("access table result names lookup table %q; define a restriction class and use its name instead", w)
		}
		if info, ok := builtins[strings.ToLower(w)]; ok {
			if info.table || info.service || info.dnsList {
				return nil, fmt.Errorf("access table result uses %q, which needs an argument; define a restriction class and use its name instead", w)
			}
			if err := c.checkNeeds("access table result", w, info.needs); err != nil {
				return nil, err
			}
			steps = append(steps, step{word: w, kind: info.kind})
			continue
		}
		if _, isClass := c.classes[w]; isClass {
			steps = append(steps, step{word: w, kind: kClass, class: w})
			continue
		}
		return nil, fmt.Errorf("unknown restriction %q in access table result", w)
	}
	return steps, nil
}
