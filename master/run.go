// Package master is tern's master(8): the supervisor that binds every
// listening socket of master.cf, runs each daemon with its sockets, restarts
// what dies, and reloads or stops the system on signals. It also implements
// the `tern start|stop|reload|status|check|start-fg|master|abort` commands,
// postfix(1)'s counterparts.
//
// The start-up contract with the daemons is in pkg/daemon. The master.cf
// commands of the queue (qmgr, cleanup, pickup, showq, bounce, defer, trace,
// trivial-rewrite, flush, discard, error) are all served by one tern
// process, daemon command "qmgr", which owns the queue database: master
// hands it the listeners of all those services at once.
package master

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/maillog"
)

// version is what master logs at start and reload.
const version = "0.1"

// defaultStopTimeout is how long a daemon may take to stop after SIGTERM.
const defaultStopTimeout = 10 * time.Second

// Options configure Main and Run.
type Options struct {
	ConfigDir   string          // -c default; "" means MAIL_CONFIG or the built-in directory
	Binary      string          // executable the daemons run from; default os.Executable()
	Daemons     map[string]bool // daemon commands this build has; nil means all of them
	Stdout      io.Writer       // default os.Stdout
	Stderr      io.Writer       // default os.Stderr
	StopTimeout time.Duration   // SIGTERM grace before SIGKILL; default 10s

	// OnListen, when set, is told of every newly bound listener: the
	// master.cf service name and the bound address (host:port or path).
	OnListen func(service, addr string)
	// OnReady, when set, is called once master is ready: every listener
	// bound, every daemon started and the pid file written.
	OnReady func()
	// Checks validate a daemon's settings before anything starts: for
	// each master.cf service that runs the daemon, the function gets
	// main.cf with the service's -o overrides applied. An error stops
	// start, check and reload with the entry's file and line.
	Checks map[string]CheckFunc
}

// CheckFunc validates the configuration of one service of a daemon.
type CheckFunc func(cfg *config.Config, configDir, service string, args []string) error

// master is the running supervisor.
type master struct {
	opt      Options
	dir      string
	binary   string
	log      *maillog.Logger
	queueDir string
	pid      *pidLock
	socks    socketSet
	children []*child
	// life is a pipe whose read end every daemon inherits and whose write
	// end only master holds, so that daemons see end of file when master
	// dies (pkg/daemon TERN_MASTER_FD).
	lifeR, lifeW *os.File
}

// loaded is one reading of main.cf and master.cf.
type loaded struct {
	cfg      *config.Config
	procs    []procSpec
	warnings []string
	notes    []string // logged as information, not warnings
	owner    owner
	queueDir string
}

// load reads master.cf against cfg and plans the processes. A non-empty
// queueDir overrides queue_directory (it cannot change on reload).
func load(dir string, cfg *config.Config, opt Options, queueDir string) (*loaded, error) {
	daemons := opt.Daemons
	l := &loaded{cfg: cfg, queueDir: queueDir}
	if l.queueDir == "" {
		l.queueDir = cfg.Get("queue_directory")
	}
	var err error
	if l.owner, err = lookupOwner(cfg.Get("mail_owner"), os.Geteuid() == 0); err != nil {
		return nil, err
	}
	proto, err := parseProtocols(cfg.List("inet_protocols"))
	if err != nil {
		return nil, err
	}
	services, err := config.LoadMaster(dir, cfg.Int("default_process_limit"))
	if err != nil {
		return nil, err
	}
	// A parameter used only by a master.cf -o value is not unknown.
	var refs, names []string
	for _, s := range services {
		names = append(names, s.Name)
		for _, o := range s.Overrides {
			refs = append(refs, o[1])
		}
	}
	for _, w := range append(cfg.WarningsWithServices(names, refs...), cfg.OverrideWarnings(services)...) {
		l.warnings = append(l.warnings, plainWarning(w))
	}
	services = enabledServices(services, cfg.List("master_service_disable"))
	procs, warns, notes := makePlan(services, planEnv{
		QueueDir: l.queueDir, Interfaces: cfg.List("inet_interfaces"), Protocols: proto, Daemons: daemons,
		SmtpdServiceName: cfg.Get("smtpd_service_name"),
		PostscreenProxy:  cfg.Get("postscreen_upstream_proxy_protocol"), PostscreenProxyTimeout: cfg.Get("postscreen_upstream_proxy_timeout"),
	})
	l.procs, l.warnings, l.notes = procs, append(l.warnings, warns...), notes
	for _, p := range l.procs {
		if err := checkService(dir, cfg, p, opt.Checks[p.Daemon]); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// checkService runs a daemon's check on main.cf with the service's -o
// overrides applied; a failure is reported at the master.cf entry.
func checkService(dir string, cfg *config.Config, p procSpec, check CheckFunc) error {
	if check == nil {
		return nil
	}
	fail := func(err error) error {
		return &config.Error{File: p.File, Line: p.Line, Msg: fmt.Sprintf("service %s: %v", p.Service, err)}
	}
	c := cfg.Clone()
	for _, o := range p.Overrides {
		if err := c.Set(o[0], o[1]); err != nil {
			return fail(fmt.Errorf("-o %s=%s: %w", o[0], o[1], err))
		}
	}
	if err := check(c, dir, p.Service, p.Args); err != nil {
		return fail(err)
	}
	return nil
}

// plainWarning drops the "warning: " that a configuration warning may
// carry after its location: master and check add their own.
func plainWarning(w string) string {
	before, after, ok := strings.Cut(w, "warning: ")
	if !ok {
		return w
	}
	return before + after
}

// Run is the master process itself: it runs in the foreground until ctx
// ends or SIGTERM/SIGINT arrives, reloads on SIGHUP, and returns nil after
// an orderly stop. It fails with ErrRunning when another master runs.
func Run(ctx context.Context, opt Options) error {
	m, err := newMaster(opt)
	if err != nil {
		return err
	}
	cfg, err := config.Load(m.dir)
	if err != nil {
		return err
	}
	if m.log, err = daemon.OpenLog(cfg, "master"); err != nil {
		return err
	}
	defer func() { _ = m.log.Close() }()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	if err := m.start(cfg); err != nil {
		m.log.Fatalf("%v", err)
		return err
	}
	m.loop(ctx, sigs)
	return nil
}

func newMaster(opt Options) (*master, error) {
	if opt.StopTimeout <= 0 {
		opt.StopTimeout = defaultStopTimeout
	}
	dir, err := filepath.Abs(config.Dir(opt.ConfigDir))
	if err != nil {
		return nil, fmt.Errorf("configuration directory: %w", err)
	}
	m := &master{opt: opt, dir: dir, binary: opt.Binary, socks: socketSet{}}
	if m.binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the tern executable: %w", err)
		}
		m.binary = exe
	}
	return m, nil
}

// start prepares the queue, takes the pid lock, binds every listener and
// starts every daemon; the pid is written last, as the sign of readiness.
func (m *master) start(cfg *config.Config) (err error) {
	l, err := load(m.dir, cfg, m.opt, "")
	if err != nil {
		return err
	}
	m.queueDir = l.queueDir
	if err := l.prepareDirs(); err != nil {
		return err
	}
	if m.pid, err = lockPID(pidPath(l.queueDir)); err != nil {
		return err
	}
	if m.lifeR, m.lifeW, err = os.Pipe(); err != nil {
		m.pid.release()
		return fmt.Errorf("master pipe: %w", err)
	}
	defer func() {
		if err != nil {
			m.shutdown(true)
		}
	}()
	m.log.Infof("daemon started -- version %s, configuration %s", version, m.dir)
	m.logConfig(l)
	socks, err := m.socks.sync(l.procs, l.owner, true, m.hooks())
	if err != nil {
		return err
	}
	m.startChildren(l, socks)
	if err := m.pid.writePID(os.Getpid()); err != nil {
		return err
	}
	if m.opt.OnReady != nil {
		m.opt.OnReady()
	}
	return nil
}

// logConfig logs the non-default parameters and every configuration warning.
func (m *master) logConfig(l *loaded) {
	for _, nd := range l.cfg.NonDefault() {
		if strings.Contains(nd, "=") {
			m.log.Infof("starting with: %s", nd)
		} else {
			m.log.Infof("starting with: %s = %s", nd, l.cfg.Get(nd))
		}
	}
	for _, old := range l.cfg.BackwardsCompatible() {
		m.log.Infof("using backwards-compatible default setting %s (compatibility_level = %s; set compatibility_level = 3.6 for the current default)", old, l.cfg.Get("compatibility_level"))
	}
	for _, n := range l.notes {
		m.log.Infof("%s", n)
	}
	for _, w := range l.warnings {
		m.log.Warnf("%s", w)
	}
}

func (m *master) hooks() syncHooks {
	return syncHooks{
		warn: m.log.Warnf,
		bound: func(s *socket) {
			if s.spec.Type == "inet" {
				m.log.Infof("service %s: listening on %s", s.spec.Service, s.addr())
			}
			if m.opt.OnListen != nil {
				m.opt.OnListen(s.spec.Service, s.addr())
			}
		},
	}
}

// loop waits for signals until master must stop.
func (m *master) loop(ctx context.Context, sigs <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			m.log.Infof("terminating on request")
			m.shutdown(false)
			return
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				m.reload()
				continue
			}
			n, _ := sig.(syscall.Signal)
			m.log.Infof("terminating on signal %d", int(n))
			m.shutdown(sig == syscall.SIGINT)
			return
		}
	}
}

// reload re-reads main.cf and master.cf, stops every daemon and starts the
// new set with the kept listeners; listeners of vanished services close,
// new ones bind. A broken configuration leaves everything running as is.
func (m *master) reload() {
	m.log.Infof("reload -- version %s, configuration %s", version, m.dir)
	cfg, err := config.Load(m.dir)
	var l *loaded
	if err == nil {
		l, err = load(m.dir, cfg, m.opt, m.queueDir)
	}
	if err == nil {
		err = l.prepareDirs()
	}
	if err != nil {
		m.log.Errorf("reload: %v; keeping the running configuration", err)
		return
	}
	if qd := cfg.Get("queue_directory"); qd != m.queueDir {
		m.log.Warnf("queue_directory change to %s needs a stop and a start; still using %s", qd, m.queueDir)
	}
	m.stopChildren(false)
	if nl, err := daemon.OpenLog(cfg, "master"); err != nil {
		m.log.Warnf("reload: %v; keeping the log", err)
	} else {
		_ = m.log.Close()
		m.log = nl
	}
	m.logConfig(l)
	socks, _ := m.socks.sync(l.procs, l.owner, false, m.hooks())
	m.startChildren(l, socks)
}

// startChildren starts a supervisor per planned process.
func (m *master) startChildren(l *loaded, socks [][]*socket) {
	env := childEnv{ConfigDir: m.dir, QueueDir: l.queueDir, Owner: l.owner}
	for i, p := range l.procs {
		if len(socks[i]) == 0 {
			m.log.Warnf("service %s: no listener could be bound; %s not started", p.Service, p.Daemon)
			continue
		}
		base := importEnvironment(l.cfg.List("import_environment"), os.Environ())
		c := newChild(m.binary, p, env.environ(base, p, socks[i]), socks[i], m.lifeR, m.log, m.opt.StopTimeout)
		m.children = append(m.children, c)
		go c.supervise()
	}
}

// stopChildren stops every daemon and waits for them all.
func (m *master) stopChildren(immediate bool) {
	for _, c := range m.children {
		c.stop(immediate)
	}
	for _, c := range m.children {
		<-c.done
	}
	m.children = nil
}

// shutdown stops the daemons, closes and removes the sockets and releases
// the pid file.
func (m *master) shutdown(immediate bool) {
	m.stopChildren(immediate)
	m.socks.closeAll()
	_ = m.lifeW.Close()
	_ = m.lifeR.Close()
	m.pid.release()
}
