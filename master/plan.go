package master

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// kind says how tern serves a master.cf command (column 8).
type kind int

const (
	kindUnsupported kind = iota // no tern implementation: warn, do not start
	kindOwn                     // a daemon process of its own per service entry
	kindFolded                  // an endpoint of the single queue-owning process
	kindNotNeeded               // a Postfix helper whose job tern does elsewhere
)

// qmgrDaemon is the daemon command that owns the queue database and serves
// every folded service.
const qmgrDaemon = "qmgr"

// classify maps a master.cf command to how tern serves it and the tern
// daemon command that runs it.
func classify(command string) (kind, string) {
	switch command {
	case "qmgr", "oqmgr", "cleanup", "pickup", "showq", "bounce", "defer",
		"trace", "trivial-rewrite", "flush", "discard", "error":
		return kindFolded, qmgrDaemon
	case "smtpd", "local", "smtp", "lmtp", "virtual", "pipe", "spawn":
		return kindOwn, command
	case postscreenCommand:
		return kindOwn, "smtpd" // see servePostscreen
	}
	if _, ok := builtIn[command]; ok {
		return kindNotNeeded, ""
	}
	return kindUnsupported, ""
}

// builtIn names the Postfix helper daemons whose work tern's daemons do
// themselves, with where it is done, for the note master logs about
// their master.cf entries.
var builtIn = map[string]string{
	"tlsmgr":     "smtpd and smtp keep their own TLS session caches",
	"tlsproxy":   "smtpd and smtp do TLS themselves",
	"anvil":      "smtpd counts each client's connections and rates itself",
	"scache":     "the smtp process keeps its own connection cache",
	"verify":     "qmgr answers address verification",
	"proxymap":   "each daemon opens its lookup tables itself",
	"proxywrite": "each daemon opens its lookup tables itself",
	"postlog":    "each daemon writes maillog_file itself",
	"postlogd":   "each daemon writes maillog_file itself",
	"retry":      "qmgr retries deferred mail itself",
	"dnsblog":    "smtpd makes postscreen's DNS list lookups",
}

// sockSpec is one listening socket of a service.
type sockSpec struct {
	Service  string      // master.cf service name
	Type     string      // "unix" or "inet", as the daemon sees it
	Wakeup   int         // master.cf wakeup seconds
	Network  string      // "unix", "tcp", "tcp4" or "tcp6"
	Address  string      // socket path or host:port
	Mode     os.FileMode // permissions of a unix socket
	Optional bool        // skip with a warning when the address family is missing
}

// key identifies the socket across reloads: same key, same kept listener.
func (s sockSpec) key() string { return s.Network + " " + s.Address }

// procSpec is one daemon process that master runs and restarts.
type procSpec struct {
	Daemon    string // tern daemon command
	Service   string // master.cf service name (TERN_SERVICE)
	Args      []string
	Overrides [][2]string
	Unpriv    bool
	Chroot    bool
	MaxProc   int
	Sockets   []sockSpec
	File      string // master.cf entry, for messages
	Line      int
}

// planEnv is what turning master.cf entries into processes depends on.
type planEnv struct {
	QueueDir   string
	Interfaces []string        // inet_interfaces
	Protocols  protocols       // inet_protocols
	Daemons    map[string]bool // nil: every daemon exists
	// SmtpdServiceName is main.cf's smtpd_service_name: the pass service
	// behind a postscreen entry.
	SmtpdServiceName string
	// PostscreenProxy and PostscreenProxyTimeout are main.cf's
	// postscreen_upstream_proxy_protocol and _timeout: smtpd serving a
	// postscreen entry's address reads the PROXY header postscreen would
	// have read.
	PostscreenProxy, PostscreenProxyTimeout string
}

func (e planEnv) has(daemon string) bool {
	return e.Daemons == nil || e.Daemons[daemon]
}

// makePlan turns master.cf entries into the processes to run. Entries tern
// cannot serve are dropped with a warning, never silently. Entries for
// Postfix helpers whose work tern does inside its daemons start nothing:
// they get a note, or a warning when they carry arguments or -o overrides
// that therefore have no effect.
func makePlan(services []config.Service, env planEnv) (procs []procSpec, warns, notes []string) {
	qmgr := -1 // index of the folded process in procs
	seen := map[string]string{}
	behindPostscreen := postscreenTargets(services, env)
	for _, s := range services {
		where := fmt.Sprintf("%s:%d", s.File, s.Line)
		k, daemon := classify(s.Command)
		if s.Type == "pass" && behindPostscreen[s.Name] {
			continue // served on the postscreen entry's address
		}
		listen := s // the entry whose address the service listens on
		if s.Command == postscreenCommand && env.has(daemon) {
			pass, warn, ok := servePostscreen(s, services, env)
			if warn != "" {
				warns = append(warns, where+": "+warn)
			}
			if !ok {
				continue
			}
			s = pass
		}
		switch {
		case k == kindNotNeeded:
			if len(s.Args) > 0 || len(s.Overrides) > 0 {
				warns = append(warns, fmt.Sprintf("%s: service %s: command %s is not needed by tern (%s); its arguments and -o overrides have no effect", where, s.Name, s.Command, builtIn[s.Command]))
			} else {
				notes = append(notes, fmt.Sprintf("%s: service %s: command %s is not needed by tern (%s); no process started", where, s.Name, s.Command, builtIn[s.Command]))
			}
			continue
		case k == kindUnsupported || !env.has(daemon):
			warns = append(warns, fmt.Sprintf("%s: unsupported command %s; service %s not started", where, s.Command, s.Name))
			continue
		}
		socks, note, err := serviceSockets(listen, env)
		if note != "" {
			warns = append(warns, where+": "+note)
		}
		if err != nil {
			warns = append(warns, fmt.Sprintf("%s: service %s: %v; service not started", where, s.Name, err))
			continue
		}
		socks, dups := dropDuplicates(socks, seen)
		for _, d := range dups {
			warns = append(warns, fmt.Sprintf("%s: service %s: %s; listener not started", where, s.Name, d))
		}
		if len(socks) == 0 {
			continue
		}
		if k == kindOwn {
			procs = append(procs, procFromService(s, daemon, socks))
			continue
		}
		if qmgr < 0 {
			qmgr = len(procs)
			procs = append(procs, procSpec{Daemon: qmgrDaemon, Service: qmgrDaemon, Unpriv: true, MaxProc: 1})
		}
		p := &procs[qmgr]
		if s.Command == "qmgr" || s.Command == "oqmgr" {
			p.Service, p.Args, p.Overrides = s.Name, s.Args, s.Overrides
			p.Unpriv, p.Chroot, p.MaxProc = s.Unpriv, s.Chroot, s.MaxProc
		} else if len(s.Overrides) > 0 || len(s.Args) > 0 {
			warns = append(warns, fmt.Sprintf("%s: service %s: command arguments and -o overrides ignored: %s is served by the %s process", where, s.Name, s.Command, qmgrDaemon))
		}
		p.Sockets = append(p.Sockets, socks...)
	}
	return procs, warns, notes
}

func procFromService(s config.Service, daemon string, socks []sockSpec) procSpec {
	return procSpec{
		Daemon: daemon, Service: s.Name, Args: s.Args, Overrides: s.Overrides,
		Unpriv: s.Unpriv, Chroot: s.Chroot, MaxProc: s.MaxProc, Sockets: socks,
		File: s.File, Line: s.Line,
	}
}

// dropDuplicates removes sockets whose address an earlier entry already
// uses; seen maps socket keys to the service that has them.
func dropDuplicates(socks []sockSpec, seen map[string]string) ([]sockSpec, []string) {
	var keep []sockSpec
	var dups []string
	for _, sk := range socks {
		if other, ok := seen[sk.key()]; ok {
			dups = append(dups, fmt.Sprintf("address %s already used by service %s", sk.Address, other))
			continue
		}
		seen[sk.key()] = sk.Service
		keep = append(keep, sk)
	}
	return keep, dups
}

// serviceSockets returns the sockets of one master.cf entry, plus a note
// worth a warning when the entry is served differently than written.
func serviceSockets(s config.Service, env planEnv) ([]sockSpec, string, error) {
	switch s.Type {
	case "unix", "fifo":
		var note string
		if s.Type == "fifo" {
			note = fmt.Sprintf("service %s: type fifo is served as a unix socket", s.Name)
		}
		sk, err := unixSocket(s, env.QueueDir)
		if err != nil {
			return nil, note, err
		}
		return []sockSpec{sk}, note, nil
	case "inet":
		socks, err := inetSockets(s.Name, env.Interfaces, env.Protocols)
		for i := range socks {
			socks[i].Wakeup = s.Wakeup
		}
		return socks, "", err
	}
	return nil, "", fmt.Errorf("service type %s is not supported", s.Type)
}

// unixSocket decides the path and mode of a unix service: private services
// live in private/ with mode 0600, public ones in public/ with mode 0666.
func unixSocket(s config.Service, queueDir string) (sockSpec, error) {
	if s.Name == "" || strings.ContainsAny(s.Name, "/,:") || s.Name == "." || s.Name == ".." {
		return sockSpec{}, fmt.Errorf("bad unix service name %q", s.Name)
	}
	sub, mode := "public", os.FileMode(0o666)
	if s.Private {
		sub, mode = "private", 0o600
	}
	return sockSpec{
		Service: s.Name, Type: "unix", Wakeup: s.Wakeup, Network: "unix",
		Address: filepath.Join(queueDir, sub, s.Name), Mode: mode,
	}, nil
}
