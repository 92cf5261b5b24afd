package smtpd

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/sasl"
	"github.com/tern-mta/tern/smtp/mx"
	"github.com/tern-mta/tern/smtpd/restrict"
	"github.com/tern-mta/tern/smtpd/screen"
)

// Main is the entry of `tern daemon smtpd`.
func Main(args []string) int {
	var srv *Server
	// The server is built before the privilege drop: TLS keys and tables
	// may be readable by root only.
	d, err := daemon.InitWith("smtpd", func(d *daemon.Daemon) error {
		var err error
		srv, err = New(d.Config, d.ConfigDir, d.Log)
		return err
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/smtpd: fatal: %v\n", err)
		if d != nil && d.Log != nil {
			d.Log.Fatalf("%v", err)
		}
		return 1
	}
	defer srv.Close()
	daemon.SetCPULimit(d.Config)
	srv.adoptQueueDir(d.Config)
	srv.persistScreenCache(d.Config)
	srv.maxConns = d.MaxProc
	srv.stress.service = d.Service
	ctx, stop := daemon.SignalContext()
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, len(d.Listeners))
	for _, l := range d.Listeners {
		wg.Add(1)
		go func(l net.Listener) {
			defer wg.Done()
			errs <- srv.Serve(ctx, l)
		}(l.Listener)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			d.Log.Fatalf("%v", err)
			return 1
		}
	}
	return 0
}

// New builds a Server from main.cf (with the service's -o overrides
// applied). configDir resolves relative table names.
func New(cfg *config.Config, configDir string, log *maillog.Logger) (*Server, error) {
	set, err := loadSettings(cfg, maps.Options{ConfigDir: configDir})
	if err != nil {
		return nil, err
	}
	srv := &Server{set: set, log: log, anvil: newAnvil(set.rateUnit)}
	if srv.stress, err = newStressMonitor(cfg, log); err != nil {
		return nil, err
	}
	if srv.tlsConfig, err = tlsConfig(cfg, set); err != nil {
		return nil, err
	}
	if cfg.Bool("smtpd_sasl_auth_enable") {
		if srv.sasl, err = saslServer(cfg, configDir); err != nil {
			return nil, err
		}
	}
	resolver := &net.Resolver{}
	if set.peernameLookup {
		srv.lookupName = func(ctx context.Context, a netip.Addr) string { return verifiedName(ctx, resolver, a) }
	}
	deps, err := restrictDeps(cfg, configDir, set, resolver, log)
	if err != nil {
		return nil, err
	}
	if srv.milters, err = milters.Open(cfg, "smtpd_milters"); err != nil {
		return nil, err
	}
	if srv.milterMaps, _, err = maps.OpenSpecList(cfg.Get("smtpd_milter_maps"), maps.Options{ConfigDir: configDir}); err != nil {
		return nil, fmt.Errorf("smtpd_milter_maps: %w", err)
	}
	srv.openMilters = func(v string) ([]*milters.Conf, error) { return milters.OpenList(cfg, "smtpd_milter_maps", v) }
	if srv.milterChecks, err = milters.OpenHeaderChecks(cfg.Get("milter_header_checks"), maps.Options{ConfigDir: configDir}); err != nil {
		return nil, err
	}
	if (len(srv.milters) > 0 || len(srv.milterMaps) > 0) && set.proxy != nil {
		log.Warnf("smtpd_milters are not applied with smtpd_proxy_filter: the filter's own smtpd can apply them")
		srv.milters, srv.milterMaps = nil, nil
	}
	if slices.Contains(set.receiveOverrides, "no_milters") {
		srv.milters, srv.milterMaps = nil, nil // a content filter's reinjection service, say
	}
	srv.policy = newPolicyClient(cfg)
	deps.PolicyQuery = srv.policy.Query
	dnsr, err := mx.NewResolver("/etc/resolv.conf", cfg.List("tern_dns_servers"), true, true)
	if err != nil {
		return nil, fmt.Errorf("tern_dns_servers: %w", err)
	}
	dnsr.IDNA2003 = cfg.Bool("enable_idna2003_compatibility")
	deps.DNSList = newDNSListCache(dnsr).lookup
	if cfg.Bool("tern_postscreen") && !set.wrapperMode { // no plain-text teaser before TLS
		sset, err := screen.Load(cfg, set.myNetworks, maps.Options{ConfigDir: configDir})
		if err != nil {
			return nil, err
		}
		srv.screen = screen.New(sset, deps.DNSList, log.WithProgram("postscreen"))
	}
	srv.verify = newVerifyClient(cfg)
	deps.Verify = srv.verify.verify
	deps.ServerHosts = serverHosts(dnsr)
	deps.OwnAddr = func(a netip.Addr) bool { return set.ownAddrs[a] }
	deps.InetInterface = func(a netip.Addr) bool { return set.inetAddrs[a] }
	if !set.mxBackupNetworks.Empty() {
		deps.MXBackupNetworks = set.mxBackupNetworks.Match
	}
	checker, err := restrict.New(cfg, deps)
	if err != nil {
		return nil, err
	}
	srv.checker = checker
	for _, w := range checker.Warnings() {
		log.Warnf("%s", w)
	}
	return srv, nil
}

// Check validates the settings of one smtpd service, for master's start
// and check: everything New builds, and then nothing is kept.
func Check(cfg *config.Config, configDir string) error {
	srv, err := New(cfg, configDir, maillog.NewWriter(io.Discard, "smtpd"))
	if err != nil {
		return err
	}
	srv.Close()
	return nil
}

// adoptQueueDir takes queue_directory as the daemon sees it after start-up
// ("/" in a chroot) for every socket named relative to it: the cleanup
// socket, check_policy_service unix:private/..., the milters' unix:
// sockets (Debian's unix:opendkim/opendkim.sock) and Dovecot's path.
func (srv *Server) adoptQueueDir(cfg *config.Config) {
	if cfg.Get("queue_directory") == srv.set.queueDir {
		return // not chrooted: every socket is already right
	}
	srv.set.queueDir = cfg.Get("queue_directory")
	srv.policy.queueDir = srv.set.queueDir
	srv.verify.socket = daemon.ServiceSocket(srv.set.queueDir, "cleanup")
	if len(srv.milters) > 0 {
		if ms, err := milters.Open(cfg, "smtpd_milters"); err == nil {
			srv.milters = ms
		}
	}
	if cfg.Bool("smtpd_sasl_auth_enable") && cfg.Get("smtpd_sasl_type") == "dovecot" {
		_ = srv.sasl.Close()
		srv.sasl = sasl.NewDovecotServer(dovecotPath(cfg), 30*time.Second)
	}
}

// dovecotPath is smtpd_sasl_path, taken from the queue directory when
// relative, as Postfix takes it.
func dovecotPath(cfg *config.Config) string {
	path := cfg.Get("smtpd_sasl_path")
	if !strings.HasPrefix(path, "/") {
		path = filepath.Join(cfg.Get("queue_directory"), path)
	}
	return path
}

// Close releases the SASL back end and the restrictions' tables.
func (srv *Server) Close() {
	srv.cleanup.closeAll()
	srv.milterChecks.Close()
	if srv.screen != nil {
		srv.screen.Close()
	}
	if srv.policy != nil {
		srv.policy.close()
	}
	if srv.sasl != nil {
		_ = srv.sasl.Close()
	}
	if srv.checker != nil {
		_ = srv.checker.Close()
	}
}

// persistScreenCache opens postscreen_cache_map's file for the
// postscreen cache, once privileges are dropped, so that the file
// belongs to mail_owner; when it can't be opened the cache stays in
// memory, with a warning.
func (srv *Server) persistScreenCache(cfg *config.Config) {
	if srv.screen == nil {
		return
	}
	path := screen.CachePath(cfg.Get("postscreen_cache_map"))
	if path == "" {
		return
	}
	if err := srv.screen.Persist(path, cfg.Duration("postscreen_cache_retention_time")); err != nil {
		srv.log.Warnf("%v; the postscreen cache is kept in memory only", err)
	}
}

// saslServer opens the back end smtpd_sasl_type names.
func saslServer(cfg *config.Config, configDir string) (sasl.Server, error) {
	switch t := cfg.Get("smtpd_sasl_type"); t {
	case "dovecot":
		return sasl.NewDovecotServer(dovecotPath(cfg), 30*time.Second), nil
	case "tern":
		specs, err := maps.SplitSpecs(cfg.Get("tern_sasl_password_maps"))
		if err != nil || len(specs) == 0 {
			return nil, fmt.Errorf("smtpd_sasl_type = tern needs tern_sasl_password_maps")
		}
		m, _, err := maps.OpenList(specs, maps.Options{ConfigDir: configDir})
		if err != nil {
			return nil, fmt.Errorf("tern_sasl_password_maps: %w", err)
		}
		return sasl.NewPasswordServer(maps.Chain("tern_sasl_password_maps", m)), nil
	default:
		return nil, fmt.Errorf("smtpd_sasl_type = %s is not supported; use dovecot, or tern with tern_sasl_password_maps", t)
	}
}

// senderOwners is the restrictions' view of smtpd_sender_login_maps: nil
// when it is empty, so that reject_sender_login_mismatch and its kin are
// a configuration error rather than a check that always fails.
func senderOwners(dir *directory) func(context.Context, string) ([]string, bool, error) {
	if len(dir.senderLogins) == 0 {
		return nil
	}
	return dir.senderOwners
}

// restrictDeps connects the restrictions to main.cf's domain classes,
// tables and DNS.
func restrictDeps(cfg *config.Config, configDir string, set settings, r *net.Resolver, log *maillog.Logger) (restrict.Deps, error) {
	dir, err := newDirectory(cfg, configDir)
	if err != nil {
		return restrict.Deps{}, err
	}
	return restrict.Deps{
		OpenMap:            func(spec string) (maps.Map, error) { return maps.Open(spec, maps.Options{ConfigDir: configDir}) },
		LocalDomain:        dir.local.Match,
		RelayDomain:        dir.relay.Match,
		VirtualDomain:      dir.virtualDomain,
		VirtualAliasDomain: dir.virtualAlias.Match,
		KnownRecipient:     dir.known,
		Relocated:          dir.relocated,
		DomainResolves:     func(ctx context.Context, d string) (bool, bool, error) { return domainResolves(ctx, r, d) },
		MyNetworks:         set.myNetworks.Match,
		SenderOwners:       senderOwners(dir),
		Logf:               log.Infof,
	}, nil
}

// verifiedName returns the client's name when its address maps to a name
// that maps back to the address (forward-confirmed reverse DNS), else
// "unknown", as Postfix's smtpd does.
func verifiedName(ctx context.Context, r *net.Resolver, a netip.Addr) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	names, err := r.LookupAddr(ctx, a.String())
	if err != nil || len(names) == 0 {
		return "unknown"
	}
	name := strings.TrimSuffix(names[0], ".")
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return "unknown"
	}
	for _, b := range addrs {
		if b.Unmap() == a {
			return name
		}
	}
	return "unknown"
}
