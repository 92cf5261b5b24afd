package rewrite

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/domainlist"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/netlist"
)

// FromConfig builds Settings from main.cf. get returns a parameter's
// effective, expanded value, defaults applied (config.Config.Get); open
// opens a table list such as "hash:/etc/postfix/canonical,
// regexp:/etc/postfix/canonical.re". The parameters read are
// canonical_maps, sender_canonical_maps, recipient_canonical_maps,
// virtual_alias_maps, canonical_classes, sender_canonical_classes,
// recipient_canonical_classes, masquerade_classes, masquerade_domains,
// masquerade_exceptions, virtual_alias_recursion_limit,
// virtual_alias_expansion_limit, virtual_alias_address_length_limit,
// recipient_delimiter, double_bounce_sender,
// propagate_unmatched_extensions, myorigin, mydestination,
// parent_domain_matches_subdomains, config_directory, inet_interfaces,
// proxy_interfaces, append_at_myorigin, append_dot_mydomain and mydomain.
// An empty limit parameter means its Postfix default. On error whatever
// was opened is closed.
func FromConfig(get func(name string) string, open func(list string) ([]maps.Map, error)) (*Settings, error) {
	s := &Settings{
		RecipientDelimiter: get("recipient_delimiter"),
		DoubleBounceSender: get("double_bounce_sender"),
	}
	steps := []func(func(string) string, func(string) ([]maps.Map, error)) error{
		s.configTables, s.configClasses, s.configMasquerade, s.configLimits, s.configLocal,
	}
	for _, step := range steps {
		if err := step(get, open); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// configTables opens the canonical and virtual alias tables.
func (s *Settings) configTables(get func(string) string, open func(string) ([]maps.Map, error)) error {
	tables := []struct {
		param string
		dst   *[]maps.Map
	}{
		{"canonical_maps", &s.Canonical},
		{"sender_canonical_maps", &s.SenderCanonical},
		{"recipient_canonical_maps", &s.RecipientCanonical},
		{"virtual_alias_maps", &s.VirtualAlias},
		{"sender_bcc_maps", &s.SenderBCC},
		{"recipient_bcc_maps", &s.RecipientBCC},
	}
	s.AlwaysBCC = strings.TrimSpace(get("always_bcc"))
	for _, t := range tables {
		v := strings.TrimSpace(get(t.param))
		if v == "" {
			continue
		}
		ms, err := open(v)
		if err != nil {
			return fmt.Errorf("%s: %w", t.param, err)
		}
		*t.dst = ms
	}
	return nil
}

// configClasses parses the class parameters and
// propagate_unmatched_extensions.
func (s *Settings) configClasses(get func(string) string, _ func(string) ([]maps.Map, error)) error {
	classes := []struct {
		param string
		dst   *map[Class]bool
	}{
		{"canonical_classes", &s.CanonicalClasses},
		{"sender_canonical_classes", &s.SenderCanonicalClasses},
		{"recipient_canonical_classes", &s.RecipientCanonicalClasses},
		{"masquerade_classes", &s.MasqueradeClasses},
	}
	for _, c := range classes {
		set, err := ParseClasses(c.param, get(c.param))
		if err != nil {
			return err
		}
		*c.dst = set
	}
	prop, err := ParsePropagate(get("propagate_unmatched_extensions"))
	if err != nil {
		return err
	}
	s.PropagateUnmatched = prop
	return nil
}

// configMasquerade reads masquerade_domains and masquerade_exceptions:
// names, "type:table" tables and "/file/name" files of names.
func (s *Settings) configMasquerade(get func(string) string, open func(string) ([]maps.Map, error)) error {
	s.MasqueradeDomains = splitList(get("masquerade_domains"))
	elems, err := maps.SplitSpecs(get("masquerade_exceptions"))
	if err != nil {
		return fmt.Errorf("masquerade_exceptions: %w", err)
	}
	s.MasqueradeExceptions = make(map[string]bool)
	for _, e := range elems {
		if err := s.addException(e, open); err != nil {
			return fmt.Errorf("masquerade_exceptions: %w", err)
		}
	}
	return nil
}

// addException adds one element of masquerade_exceptions.
func (s *Settings) addException(e string, open func(string) ([]maps.Map, error)) error {
	switch {
	case strings.HasPrefix(e, "!"):
		return fmt.Errorf("negated entry %q is not supported", e)
	case strings.HasPrefix(e, "/"):
		names, err := readWords(e)
		if err != nil {
			return err
		}
		for _, n := range names {
			s.MasqueradeExceptions[strings.ToLower(n)] = true
		}
	case strings.Contains(e, ":"):
		ms, err := open(e)
		if err != nil {
			return err
		}
		s.MasqueradeExceptionMaps = append(s.MasqueradeExceptionMaps, ms...)
	default:
		s.MasqueradeExceptions[strings.ToLower(e)] = true
	}
	return nil
}

// readWords returns the words of a list file; "#" starts a comment line.
func readWords(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	var words []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		words = append(words, splitList(line)...)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return words, nil
}

// configLimits reads the virtual alias limits.
func (s *Settings) configLimits(get func(string) string, _ func(string) ([]maps.Map, error)) error {
	limits := []struct {
		param string
		dst   *int
		def   int
	}{
		{"virtual_alias_recursion_limit", &s.RecursionLimit, DefaultRecursionLimit},
		{"virtual_alias_expansion_limit", &s.ExpansionLimit, DefaultExpansionLimit},
		{"virtual_alias_address_length_limit", &s.AddressLengthLimit, DefaultAddressLengthLimit},
	}
	for _, l := range limits {
		v := strings.TrimSpace(get(l.param))
		if v == "" {
			*l.dst = l.def
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("bad numerical configuration: %s = %s", l.param, v)
		}
		if n < 1 {
			return fmt.Errorf("invalid %s parameter value %d < 1", l.param, n)
		}
		*l.dst = n
	}
	return nil
}

// configLocal sets LocalDomains from myorigin, mydestination and the
// addresses of inet_interfaces and proxy_interfaces, and Qualify from
// append_at_myorigin and append_dot_mydomain.
func (s *Settings) configLocal(get func(string) string, _ func(string) ([]maps.Map, error)) error {
	appendAt, err := parseBool(get, "append_at_myorigin")
	if err != nil {
		return err
	}
	appendDot, err := parseBool(get, "append_dot_mydomain")
	if err != nil {
		return err
	}
	dest, err := domainlist.FromConfig(get, "mydestination", maps.Options{ConfigDir: get("config_directory")})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, dest.Close)
	origin := normalizeDomain(get("myorigin"))
	ifaces := interfaceAddrs(get("inet_interfaces"), get("proxy_interfaces"))
	s.LocalDomains = func(domain string) (bool, error) {
		d := normalizeDomain(domain)
		if d != "" && d == origin {
			return true, nil
		}
		if ip, ok := addressLiteral(d); ok {
			return ifaces[ip.String()], nil
		}
		return dest.Match(d)
	}
	q := qualifier{appendAt: appendAt, appendDot: appendDot, myorigin: get("myorigin"), mydomain: get("mydomain")}
	s.Qualify = q.qualify
	return nil
}

// parseBool reads a yes/no parameter.
func parseBool(get func(string) string, param string) (bool, error) {
	v := strings.TrimSpace(get(param))
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, nil
	case "no", "false", "":
		return false, nil
	}
	return false, fmt.Errorf("bad boolean configuration: %s = %s", param, v)
}

// normalizeDomain lower-cases a domain and drops a trailing dot.
func normalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// addressLiteral parses "[1.2.3.4]" or "[ipv6:::1]".
func addressLiteral(d string) (net.IP, bool) {
	if len(d) < 2 || d[0] != '[' || d[len(d)-1] != ']' {
		return nil, false
	}
	inner := strings.TrimPrefix(d[1:len(d)-1], "ipv6:")
	ip := net.ParseIP(inner)
	return ip, ip != nil
}

// interfaceAddrs returns the IP addresses named by inet_interfaces ("all":
// the host's interface addresses; "loopback-only": 127.0.0.1 and ::1) and
// proxy_interfaces. Host names in these lists are not resolved.
func interfaceAddrs(inet, proxy string) map[string]bool {
	set := make(map[string]bool)
	for ip := range netlist.OwnAddrs(splitList(inet), splitList(proxy)) {
		set[ip.String()] = true
	}
	return set
}

// qualifier completes table results as trivial-rewrite's "local" context
// does.
type qualifier struct {
	appendAt, appendDot bool
	myorigin, mydomain  string
}

// qualify appends "@$myorigin" to an address without a domain
// (append_at_myorigin) and ".$mydomain" to a domain without a dot
// (append_dot_mydomain).
func (q qualifier) qualify(addr string) string {
	local, domain, hasDomain := splitAddr(addr)
	if !hasDomain {
		if !q.appendAt || q.myorigin == "" {
			return addr
		}
		domain = q.myorigin
	}
	if q.appendDot && q.mydomain != "" && domain != "" && !strings.Contains(domain, ".") && !strings.HasPrefix(domain, "[") {
		domain += "." + q.mydomain
	}
	return local + "@" + domain
}
