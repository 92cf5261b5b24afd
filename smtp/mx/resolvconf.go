package mx

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"
)

// Limits that glibc's resolver applies to resolv.conf (resolv.conf(5)).
const (
	maxResolvServers = 3                // MAXNS: later nameserver lines are ignored
	maxResolvTimeout = 30 * time.Second // RES_MAXRETRANS for options timeout:n
	maxResolvAttempt = 5                // RES_MAXRETRY for options attempts:n
	maxResolvLines   = 10000            // lines read before the rest is ignored
	defaultDNSPort   = 53
	defaultServer    = "127.0.0.1:53" // glibc's name server without a nameserver line
)

// ResolvConf is what tern uses of a resolv.conf file.
type ResolvConf struct {
	Servers  []string      // "ip:port" of the nameserver lines, at most 3
	Timeout  time.Duration // options timeout:n, or 0 when absent
	Attempts int           // options attempts:n, or 0 when absent
	Warnings []string      // lines or values that were ignored, for the log
}

// ParseResolvConf reads the nameserver lines and the timeout and attempts
// options of a resolv.conf file the way glibc does: keywords start a line,
// "#" and ";" start comment lines, at most three name servers are kept,
// timeout is capped at 30 seconds and attempts at 5, and a later options
// line overrides an earlier one. Malformed values are ignored and named in
// Warnings. Keywords tern has no use for (search, domain, sortlist and the
// other options) are ignored silently: tern looks up absolute names only.
func ParseResolvConf(data []byte) ResolvConf {
	var c ResolvConf
	for i, line := range strings.Split(string(data), "\n") {
		if i >= maxResolvLines {
			c.Warnings = append(c.Warnings, fmt.Sprintf("ignoring lines after line %d", maxResolvLines))
			break
		}
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0][0] == '#' || fields[0][0] == ';' {
			continue
		}
		switch fields[0] {
		case "nameserver":
			c.addServer(i+1, fields[1:])
		case "options":
			for _, opt := range fields[1:] {
				c.setOption(i+1, opt)
			}
		}
	}
	return c
}

// addServer handles the arguments of a nameserver line.
func (c *ResolvConf) addServer(lineno int, args []string) {
	if len(args) == 0 {
		c.warnf("line %d: nameserver without address", lineno)
		return
	}
	addr, err := netip.ParseAddr(args[0])
	if err != nil {
		c.warnf("line %d: ignoring nameserver %q: not an IP address", lineno, clip(args[0]))
		return
	}
	if len(c.Servers) >= maxResolvServers {
		c.warnf("line %d: ignoring nameserver %s: only %d are used", lineno, addr, maxResolvServers)
		return
	}
	c.Servers = append(c.Servers, netip.AddrPortFrom(addr, defaultDNSPort).String())
}

// setOption handles one word of an options line.
func (c *ResolvConf) setOption(lineno int, opt string) {
	name, value, ok := strings.Cut(opt, ":")
	if !ok || (name != "timeout" && name != "attempts") {
		return
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 {
		c.warnf("line %d: ignoring option %q: want a positive number", lineno, clip(opt))
		return
	}
	if name == "timeout" {
		c.Timeout = min(time.Duration(n)*time.Second, maxResolvTimeout)
		return
	}
	c.Attempts = min(n, maxResolvAttempt)
}

func (c *ResolvConf) warnf(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

// clip shortens a value quoted in a warning.
func clip(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// ParseServer parses a name server given as "ip", "ip:port", "[ipv6]" or
// "[ipv6]:port" (port 53 by default) into "ip:port" form.
func ParseServer(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("name server %q: port 0", s)
		}
		return ap.String(), nil
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("name server %q: want ip, ip:port or [ipv6]:port", s)
	}
	return netip.AddrPortFrom(addr, defaultDNSPort).String(), nil
}

// NewResolver reads the name servers, and the options timeout and attempts
// when present, from the resolv.conf file resolvConf. A non-empty override
// list replaces the file's name servers (each "ip" or "ip:port", port 53 by
// default, IPv6 as "[::1]:53" or "::1"). As with glibc, a missing file or a
// file without nameserver lines means the name server on 127.0.0.1; an
// empty resolvConf reads no file. ipv4 and ipv6 select the address families
// that lookups return (Postfix's inet_protocols).
//
// Lines of the file that were ignored are in the Warnings of
// ParseResolvConf; callers that want them in the log parse the file
// themselves.
func NewResolver(resolvConf string, override []string, ipv4, ipv6 bool) (*Resolver, error) {
	var conf ResolvConf
	if resolvConf != "" {
		data, err := os.ReadFile(resolvConf)
		switch {
		case err == nil:
			conf = ParseResolvConf(data)
		case errors.Is(err, fs.ErrNotExist):
			// glibc carries on with its defaults.
		default:
			return nil, fmt.Errorf("read resolver configuration %s: %w", resolvConf, err)
		}
	}
	r := &Resolver{
		Servers:  conf.Servers,
		Timeout:  conf.Timeout,
		Attempts: conf.Attempts,
		IPv4:     ipv4,
		IPv6:     ipv6,
	}
	if len(override) > 0 {
		r.Servers = nil
		for _, s := range override {
			srv, err := ParseServer(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("name server override: %w", err)
			}
			r.Servers = append(r.Servers, srv)
		}
	}
	if len(r.Servers) == 0 {
		r.Servers = []string{defaultServer}
	}
	return r, nil
}
