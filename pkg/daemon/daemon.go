// Package daemon is the start-up contract between master and the daemons it
// runs. master executes `tern daemon COMMAND [ARGS...]` with the service's
// listening sockets as inherited file descriptors starting at 3, and these
// environment variables:
//
//	TERN_CONFIG_DIR   the configuration directory (as for -c)
//	TERN_LISTENERS    comma list of name:type:wakeup, one per inherited fd in
//	                  order, e.g. "cleanup:unix:0,pickup:unix:60"
//	TERN_OVERRIDES    master.cf -o settings, "name=value" joined by newlines
//	                  (a value cannot hold one; the environment cannot hold NUL)
//	TERN_USER         the user to run as after start-up ("" = stay as is)
//	TERN_CHROOT       directory to chroot into ("" = none)
//	TERN_MAXPROC      master.cf maxproc of the service (0 = unlimited)
//	TERN_SERVICE      master.cf service name, e.g. "smtp" or "local"
//	TERN_MASTER_FD    descriptor of the read end of a pipe whose only write
//	                  end master holds: end of file there means master died
//
// A daemon calls Init first: it loads main.cf with the overrides, opens the
// log, adopts the listeners, and then chroots and drops privileges, so that
// everything needing root happens before and nothing after.
package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

// Environment variable names of the contract.
const (
	EnvConfigDir = "TERN_CONFIG_DIR"
	EnvListeners = "TERN_LISTENERS"
	EnvOverrides = "TERN_OVERRIDES"
	EnvUser      = "TERN_USER"
	EnvChroot    = "TERN_CHROOT"
	EnvMaxProc   = "TERN_MAXPROC"
	EnvService   = "TERN_SERVICE"
	EnvMasterFD  = "TERN_MASTER_FD"
)

// FirstFD is the descriptor number of the first inherited listener.
const FirstFD = 3

// Listener is one inherited listening socket.
type Listener struct {
	Name   string // master.cf service name, e.g. "pickup"
	Type   string // inet or unix
	Wakeup int    // master.cf wakeup seconds, 0 = none
	net.Listener
}

// Daemon is what Init hands a daemon.
type Daemon struct {
	Name      string // daemon command, e.g. "qmgr"
	Service   string
	ConfigDir string
	Config    *config.Config
	Log       *maillog.Logger
	Listeners []Listener
	MaxProc   int
}

// Listener returns the inherited listener of the named service, or nil.
func (d *Daemon) Listener(name string) net.Listener {
	for _, l := range d.Listeners {
		if l.Name == name {
			return l.Listener
		}
	}
	return nil
}

// ServiceListener returns the listener of the daemon's own service, else
// the first master passed, else nil.
func (d *Daemon) ServiceListener() net.Listener {
	if l := d.Listener(d.Service); l != nil {
		return l
	}
	if len(d.Listeners) > 0 {
		return d.Listeners[0].Listener
	}
	return nil
}

// Init performs the start-up contract for the daemon command name.
func Init(name string) (*Daemon, error) {
	return InitWith(name, nil)
}

// InitWith is Init with setup run after the configuration, log and
// listeners are ready but before the chroot and the privilege drop: the
// place to read files only root may read, such as TLS keys, as Postfix's
// daemons do. Inside a chroot, queue_directory is "/" only after setup.
func InitWith(name string, setup func(*Daemon) error) (*Daemon, error) {
	d := &Daemon{Name: name, ConfigDir: config.Dir(os.Getenv(EnvConfigDir)), Service: os.Getenv(EnvService)}
	cfg, err := config.Load(d.ConfigDir)
	if err != nil {
		return nil, err
	}
	if d.Service != "" {
		// For -o values such as syslog_name=tern/$service_name.
		if err := cfg.Set("service_name", d.Service); err != nil {
			return nil, err
		}
	}
	if err := applyOverrides(cfg, os.Getenv(EnvOverrides)); err != nil {
		return nil, err
	}
	d.Config = cfg
	setGCPercent(cfg)
	d.MaxProc, _ = strconv.Atoi(os.Getenv(EnvMaxProc))
	d.Log, err = OpenLog(cfg, name)
	if err != nil {
		return nil, err
	}
	if d.Listeners, err = inherit(os.Getenv(EnvListeners)); err != nil {
		return nil, err
	}
	if err := watchMaster(os.Getenv(EnvMasterFD), d.Log); err != nil {
		return nil, err
	}
	if setup != nil {
		if err := setup(d); err != nil {
			return nil, err
		}
	}
	chroot := os.Getenv(EnvChroot)
	if err := dropPrivileges(os.Getenv(EnvUser), chroot); err != nil {
		return nil, err
	}
	if chroot != "" {
		// Inside the jail the queue directory is the root, as for
		// Postfix's chrooted daemons.
		if err := cfg.Set("queue_directory", "/"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// setGCPercent applies tern_gc_percent unless the environment sets GOGC.
// A mail daemon allocates per message and keeps little: collecting half as
// often saves about a tenth of smtpd's and qmgr's CPU for a few MiB. (At
// 400 it saved a fifth, but qmgr kept 110-190 MiB after a walk of a
// 100,000-message queue instead of 10-25 MiB.)
func setGCPercent(cfg *config.Config) {
	if os.Getenv("GOGC") != "" {
		return
	}
	if p := cfg.Int("tern_gc_percent"); p != 0 {
		debug.SetGCPercent(p)
	}
}

// SetCPULimit applies tern_cpu_limit to the calling daemon's GOMAXPROCS
// (0: half of the machine's CPUs, at least one) unless the environment
// sets GOMAXPROCS. smtpd and the smtp and lmtp agents call it: each is one
// process with a goroutine per connection, and with a scheduler slot per
// CPU their idle slots spin looking for work, taking CPU from qmgr, the
// other agents and the clients. qmgr and local keep every CPU (limiting
// them made no difference).
func SetCPULimit(cfg *config.Config) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(CPULimit(cfg.Int("tern_cpu_limit"), runtime.NumCPU()))
}

// CPULimit is the GOMAXPROCS value for a tern_cpu_limit of limit on a
// machine with ncpu CPUs.
func CPULimit(limit, ncpu int) int {
	if limit > 0 {
		return limit
	}
	return max(1, ncpu/2)
}

// OpenLog opens the log as syslog_name/program with main.cf's settings.
func OpenLog(cfg *config.Config, program string) (*maillog.Logger, error) {
	if err := cfg.CheckMaillogFile(); err != nil {
		return nil, err // a master.cf -o maillog_file escapes main.cf's check
	}
	return maillog.New(maillog.Options{
		Program:  cfg.Get("syslog_name") + "/" + program,
		File:     cfg.Get("maillog_file"),
		Hostname: cfg.Get("myhostname"),
		Facility: cfg.Get("syslog_facility"),
	})
}

func applyOverrides(cfg *config.Config, s string) error {
	if s == "" {
		return nil
	}
	for _, kv := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("master.cf override %q: missing '='", kv)
		}
		if err := cfg.Set(strings.TrimSpace(name), strings.TrimSpace(value)); err != nil {
			return fmt.Errorf("master.cf override %s: %w", name, err)
		}
	}
	return nil
}

func inherit(spec string) ([]Listener, error) {
	if spec == "" {
		return nil, nil
	}
	var out []Listener
	for i, item := range strings.Split(spec, ",") {
		// Split from the right: a service name may itself hold colons.
		f := rsplit3(item)
		if f == nil {
			return nil, fmt.Errorf("%s: bad item %q", EnvListeners, item)
		}
		wakeup, _ := strconv.Atoi(f[2])
		file := os.NewFile(uintptr(FirstFD+i), f[0])
		l, err := net.FileListener(file)
		file.Close()
		if err != nil {
			return nil, fmt.Errorf("inherit listener %s (fd %d): %w", f[0], FirstFD+i, err)
		}
		out = append(out, Listener{Name: f[0], Type: f[1], Wakeup: wakeup, Listener: l})
	}
	return out, nil
}

// rsplit3 splits "name:type:wakeup" at its last two colons.
func rsplit3(s string) []string {
	j := strings.LastIndexByte(s, ':')
	if j < 0 {
		return nil
	}
	i := strings.LastIndexByte(s[:j], ':')
	if i < 0 {
		return nil
	}
	return []string{s[:i], s[i+1 : j], s[j+1:]}
}

// dropPrivileges chroots (when asked) and switches to the named user. Go's
// syscall.Setuid and friends apply to every thread of the process.
func dropPrivileges(name, chroot string) error {
	if name == "" && chroot == "" {
		return nil
	}
	var uid, gid int
	var groups []int
	if name != "" {
		u, err := user.Lookup(name)
		if err != nil {
			return fmt.Errorf("mail_owner %q: %w", name, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		groups = []int{gid}
	}
	if chroot != "" {
		if err := syscall.Chroot(chroot); err != nil {
			return fmt.Errorf("chroot %s: %w", chroot, err)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("chdir / in chroot: %w", err)
		}
	}
	if name == "" {
		return nil
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	return nil
}

// SignalContext returns a context cancelled by SIGTERM or SIGINT: the
// daemon then stops accepting work and finishes what it has in hand.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}

// ServiceSocket returns the path of a unix service's socket:
// private/NAME, or public/NAME when master.cf marks the service public
// (column 2 "n"), as Postfix's default master.cf does for cleanup.
func ServiceSocket(queueDir, name string) string {
	private := filepath.Join(queueDir, "private", name)
	if _, err := os.Stat(private); err == nil {
		return private
	}
	public := filepath.Join(queueDir, "public", name)
	if _, err := os.Stat(public); err == nil {
		return public
	}
	return private
}
