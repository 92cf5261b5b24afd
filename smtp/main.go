package smtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/smtp/mx"
)

// bodyMemLimit is the largest message body the agent keeps in memory.
const bodyMemLimit = 1 << 20

// Main is the entry of `tern daemon smtp`.
func Main(args []string) int { return run("smtp", false) }

// MainLMTP is the entry of `tern daemon lmtp`.
func MainLMTP(args []string) int { return run("lmtp", true) }

func run(name string, lmtp bool) int {
	var a *Agent
	d, err := daemon.InitWith(name, func(d *daemon.Daemon) error {
		var err error
		a, err = New(d.Config, d.ConfigDir, lmtp)
		return err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/%s: fatal: %v\n", name, err)
		if d != nil && d.Log != nil {
			d.Log.Fatalf("%v", err)
		}
		return 1
	}
	defer a.Close()
	daemon.SetCPULimit(d.Config)
	a.set.queueDir = d.Config.Get("queue_directory")
	a.log = d.Log
	for _, w := range a.set.warnings {
		d.Log.Warnf("%s", w)
	}
	return agent.ServeDaemon(d, a, bodyMemLimit)
}

// New builds an agent from main.cf (with the service's -o overrides).
func New(cfg *config.Config, configDir string, lmtp bool) (*Agent, error) {
	if lmtp {
		cfg = cfg.LMTPView() // the lmtp_* forms where Postfix has them
	}
	set, err := loadSettings(cfg, configDir, lmtp)
	if err != nil {
		return nil, err
	}
	v4, v6 := inetProtocols(cfg.List("inet_protocols"))
	r, err := mx.NewResolver("/etc/resolv.conf", cfg.List("tern_dns_servers"), v4, v6)
	if err != nil {
		return nil, fmt.Errorf("tern_dns_servers: %w", err)
	}
	if r.Preference, err = mx.ParseAddrPreference(cfg.Get("smtp_address_preference")); err != nil {
		return nil, fmt.Errorf("smtp_address_preference: %w", err)
	}
	r.Ordered = !cfg.Bool("smtp_randomize_addresses")
	r.IgnoreMXLookupError = cfg.Bool("ignore_mx_lookup_error")
	r.IDNA2003 = cfg.Bool("enable_idna2003_compatibility")
	if err := hostLookup(r, cfg.List("smtp_host_lookup")); err != nil {
		return nil, err
	}
	switch set.dnsLevel {
	case dnsDisabled:
		// Postfix: no MX lookups, and host addresses the native way.
		_ = hostLookup(r, []string{"native"})
	case dnsDNSSEC:
		r.DNSSEC = true
	}
	r.DeferNoMXAddress = cfg.Bool("smtp_defer_if_no_mx_address_found")
	cache := newSessionCache(set.cacheTime)
	cache.reuseTime, cache.reuseCount, cache.noTLS = set.reuseTime, set.reuseCount, !set.tlsReuse
	queueDir, timeout := cfg.Get("queue_directory"), 1000*time.Second
	delegate := func(transport, nexthop string, req *agent.Request) []agent.Result {
		return agent.Delegate(queueDir, timeout, transport, nexthop, req, req.Recipients)
	}
	a := &Agent{set: set, resolver: r, cache: cache, delegate: delegate}
	// With lmtp, cfg is the LMTP view: these are lmtp_bind_address and
	// lmtp_bind_address6.
	if a.dial, err = bindDialer(cfg.Get("smtp_bind_address"), cfg.Get("smtp_bind_address6"),
		cfg.Bool("smtp_bind_address_enforce"), a.warnf); err != nil {
		return nil, err
	}
	return a, nil
}

// warnf logs a warning once the agent has its log.
func (a *Agent) warnf(format string, args ...any) {
	if a.log != nil {
		a.log.Warnf(format, args...)
	}
}

// hostLookup applies smtp_host_lookup: dns (the default), native (the
// system's /etc/hosts and resolver), or both in the order given.
func hostLookup(r *mx.Resolver, words []string) error {
	useDNS, useNative := false, false
	for i, w := range words {
		switch strings.ToLower(w) {
		case "dns":
			useDNS = true
		case "native":
			useNative = true
			r.NativeFirst = i == 0
		default:
			return fmt.Errorf("smtp_host_lookup: unknown method %q (dns or native)", w)
		}
	}
	if useNative {
		r.Native = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
		r.DNSOff = !useDNS
	}
	return nil
}

// bindDialer dials from smtp_bind_address (IPv4 servers) and
// smtp_bind_address6 (IPv6 servers) when they are set, as on a host with
// several addresses whose mail must leave from one; unix sockets and the
// other family dial from any address. When the address can't be bound
// (it is not one of this host's), the connection is made from any
// address with a warning, as Postfix's client does, unless enforce
// (smtp_bind_address_enforce) says to fail it, and so defer the mail.
func bindDialer(v4, v6 string, enforce bool, warnf func(format string, args ...any)) (func(ctx context.Context, network, addr string) (net.Conn, error), error) {
	local4, err := bindAddr("smtp_bind_address", v4, true)
	if err != nil {
		return nil, err
	}
	local6, err := bindAddr("smtp_bind_address6", v6, false)
	if err != nil {
		return nil, err
	}
	plain := &net.Dialer{}
	if local4 == nil && local6 == nil {
		return plain.DialContext, nil
	}
	from4, from6 := &net.Dialer{}, &net.Dialer{}
	if local4 != nil {
		from4.LocalAddr = local4
	}
	if local6 != nil {
		from6.LocalAddr = local6
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		ip, perr := netip.ParseAddr(host)
		from := from6
		switch {
		case network == "unix" || err != nil || perr != nil:
			return plain.DialContext(ctx, network, addr)
		case ip.Unmap().Is4():
			from = from4
		}
		conn, err := from.DialContext(ctx, network, addr)
		var se *os.SyscallError
		if err == nil || enforce || from.LocalAddr == nil || !errors.As(err, &se) || se.Syscall != "bind" {
			return conn, err
		}
		warnf("bind %s: %v; connecting to %s from any address (smtp_bind_address_enforce = no)", from.LocalAddr, se.Err, addr)
		return plain.DialContext(ctx, network, addr)
	}, nil
}

// bindAddr parses a bind address parameter; nil when it is empty.
func bindAddr(param, value string, want4 bool) (*net.TCPAddr, error) {
	v := strings.Trim(strings.TrimSpace(value), "[]")
	if v == "" {
		return nil, nil
	}
	ip, err := netip.ParseAddr(v)
	if err != nil || ip.Is4() != want4 {
		family := "IPv6"
		if want4 {
			family = "IPv4"
		}
		return nil, fmt.Errorf("%s = %s: need an %s address", param, value, family)
	}
	return &net.TCPAddr{IP: ip.AsSlice()}, nil
}

// Check validates the settings of one smtp service for master.
func Check(cfg *config.Config, configDir string) error { return check(cfg, configDir, false) }

// CheckLMTP validates the settings of one lmtp service for master.
func CheckLMTP(cfg *config.Config, configDir string) error { return check(cfg, configDir, true) }

func check(cfg *config.Config, configDir string, lmtp bool) error {
	a, err := New(cfg, configDir, lmtp)
	if err != nil {
		return err
	}
	a.Close()
	return nil
}

// Close ends the cached sessions and closes smtp_generic_maps.
func (a *Agent) Close() {
	a.cache.closeAll()
	if a.set.generic != nil {
		_ = a.set.generic.Close()
	}
}

// inetProtocols reads inet_protocols: all, ipv4, ipv6 or a list.
func inetProtocols(list []string) (v4, v6 bool) {
	for _, p := range list {
		switch p {
		case "all":
			return true, true
		case "ipv4":
			v4 = true
		case "ipv6":
			v6 = true
		}
	}
	return v4, v6
}
