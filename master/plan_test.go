package master

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		command string
		kind    kind
		daemon  string
	}{
		{"qmgr", kindFolded, "qmgr"},
		{"cleanup", kindFolded, "qmgr"},
		{"pickup", kindFolded, "qmgr"},
		{"showq", kindFolded, "qmgr"},
		{"bounce", kindFolded, "qmgr"},
		{"defer", kindFolded, "qmgr"},
		{"trace", kindFolded, "qmgr"},
		{"trivial-rewrite", kindFolded, "qmgr"},
		{"flush", kindFolded, "qmgr"},
		{"discard", kindFolded, "qmgr"},
		{"error", kindFolded, "qmgr"},
		{"smtpd", kindOwn, "smtpd"},
		{"smtp", kindOwn, "smtp"},
		{"lmtp", kindOwn, "lmtp"},
		{"local", kindOwn, "local"},
		{"virtual", kindOwn, "virtual"},
		{"tlsmgr", kindNotNeeded, ""},
		{"anvil", kindNotNeeded, ""},
		{"scache", kindNotNeeded, ""},
		{"verify", kindNotNeeded, ""},
		{"proxymap", kindNotNeeded, ""},
		{"proxywrite", kindNotNeeded, ""},
		{"postlog", kindNotNeeded, ""},
		{"postlogd", kindNotNeeded, ""}, // Debian's master.cf: postlog unix-dgram ... postlogd
		{"pipe", kindOwn, "pipe"},
		{"spawn", kindOwn, "spawn"},
		{"qmqpd", kindUnsupported, ""},
		{"postscreen", kindOwn, "smtpd"},
		{"dnsblog", kindNotNeeded, ""},
		{"tlsproxy", kindNotNeeded, ""},
		{"", kindUnsupported, ""},
	}
	for _, tt := range tests {
		k, d := classify(tt.command)
		if k != tt.kind || d != tt.daemon {
			t.Errorf("classify(%q) = %v, %q; want %v, %q", tt.command, k, d, tt.kind, tt.daemon)
		}
	}
}

func svc(line int, name, typ string, private bool, command string, args ...string) config.Service {
	return config.Service{
		Name: name, Type: typ, Private: private, Unpriv: true, MaxProc: 100,
		Command: command, Args: args, File: "/etc/tern/master.cf", Line: line,
	}
}

func TestMakePlan(t *testing.T) {
	q := "/var/spool/tern"
	smtp := svc(1, "smtp", "inet", false, "smtpd")
	cleanup := svc(2, "cleanup", "unix", false, "cleanup")
	cleanup.MaxProc = 0
	tlsmgr := svc(3, "tlsmgr", "unix", true, "tlsmgr")
	qmgr := svc(4, "qmgr", "unix", false, "qmgr")
	qmgr.Wakeup, qmgr.MaxProc, qmgr.Overrides = 300, 1, [][2]string{{"a", "b"}}
	relay := svc(5, "relay", "unix", true, "smtp")
	relay.Overrides = [][2]string{{"syslog_name", "tern/relay"}}
	pipe := svc(6, "maildrop", "unix", true, "pipe", "flags=DRXhu")
	flush := svc(7, "flush", "unix", true, "flush", "-v")
	dupSMTP := svc(8, "25", "inet", false, "smtpd")
	lmtp := svc(9, "lmtp", "unix", true, "lmtp")
	pickup := svc(10, "pickup", "fifo", false, "pickup")
	dgram := svc(11, "postlog", "unix-dgram", false, "smtpd")
	anvil := svc(12, "anvil", "unix", true, "anvil", "-v")

	procs, warns, notes := makePlan(
		[]config.Service{smtp, cleanup, tlsmgr, qmgr, relay, pipe, flush, dupSMTP, lmtp, pickup, dgram, anvil},
		planEnv{QueueDir: q, Interfaces: []string{"all"}, Protocols: protocols{true, true},
			Daemons: map[string]bool{"qmgr": true, "smtpd": true, "smtp": true}},
	)
	want := []procSpec{
		{Daemon: "smtpd", Service: "smtp", Unpriv: true, MaxProc: 100, File: smtp.File, Line: 1, Sockets: []sockSpec{
			{Service: "smtp", Type: "inet", Network: "tcp", Address: ":25"},
		}},
		{Daemon: "qmgr", Service: "qmgr", Unpriv: true, MaxProc: 1, Overrides: [][2]string{{"a", "b"}}, Sockets: []sockSpec{
			{Service: "cleanup", Type: "unix", Network: "unix", Address: q + "/public/cleanup", Mode: 0o666},
			{Service: "qmgr", Type: "unix", Wakeup: 300, Network: "unix", Address: q + "/public/qmgr", Mode: 0o666},
			{Service: "flush", Type: "unix", Network: "unix", Address: q + "/private/flush", Mode: 0o600},
			{Service: "pickup", Type: "unix", Network: "unix", Address: q + "/public/pickup", Mode: 0o666},
		}},
		{Daemon: "smtp", Service: "relay", Unpriv: true, MaxProc: 100, Overrides: relay.Overrides, File: relay.File, Line: 5, Sockets: []sockSpec{
			{Service: "relay", Type: "unix", Network: "unix", Address: q + "/private/relay", Mode: 0o600},
		}},
	}
	if !reflect.DeepEqual(procs, want) {
		t.Errorf("procs:\n got %+v\nwant %+v", procs, want)
	}
	wantWarns := []string{
		"/etc/tern/master.cf:6: unsupported command pipe; service maildrop not started",
		"/etc/tern/master.cf:7: service flush: command arguments and -o overrides ignored: flush is served by the qmgr process",
		"/etc/tern/master.cf:8: service 25: address :25 already used by service smtp; listener not started",
		"/etc/tern/master.cf:9: unsupported command lmtp; service lmtp not started",
		"/etc/tern/master.cf:10: service pickup: type fifo is served as a unix socket",
		"/etc/tern/master.cf:11: service postlog: service type unix-dgram is not supported; service not started",
		"/etc/tern/master.cf:12: service anvil: command anvil is not needed by tern (smtpd counts each client's connections and rates itself); its arguments and -o overrides have no effect",
	}
	if !reflect.DeepEqual(warns, wantWarns) {
		t.Errorf("warnings:\n got %q\nwant %q", warns, wantWarns)
	}
	wantNotes := []string{
		"/etc/tern/master.cf:3: service tlsmgr: command tlsmgr is not needed by tern (smtpd and smtp keep their own TLS session caches); no process started",
	}
	if !reflect.DeepEqual(notes, wantNotes) {
		t.Errorf("notes:\n got %q\nwant %q", notes, wantNotes)
	}
}

func TestMakePlanAllDaemons(t *testing.T) {
	procs, warns, _ := makePlan([]config.Service{
		svc(1, "cleanup", "unix", false, "cleanup"),
		svc(2, "local", "unix", true, "local"),
		svc(3, "virtual", "unix", true, "virtual"),
	}, planEnv{QueueDir: "/q"})
	if len(warns) != 0 {
		t.Errorf("unexpected warnings %q", warns)
	}
	var got []string
	for _, p := range procs {
		got = append(got, p.Daemon+"/"+p.Service)
	}
	if want := []string{"qmgr/qmgr", "local/local", "virtual/virtual"}; !reflect.DeepEqual(got, want) {
		t.Errorf("procs %q, want %q", got, want)
	}
	// Without a qmgr entry the folded process runs with defaults.
	if !procs[0].Unpriv || procs[0].MaxProc != 1 {
		t.Errorf("qmgr defaults: %+v", procs[0])
	}
}

func TestUnixSocket(t *testing.T) {
	tests := []struct {
		name    string
		private bool
		path    string
		mode    os.FileMode
		err     bool
	}{
		{"cleanup", false, "/q/public/cleanup", 0o666, false},
		{"smtp", true, "/q/private/smtp", 0o600, false},
		{"a/b", true, "", 0, true},
		{"..", true, "", 0, true},
		{"x:y", false, "", 0, true},
		{"", false, "", 0, true},
	}
	for _, tt := range tests {
		sk, err := unixSocket(config.Service{Name: tt.name, Type: "unix", Private: tt.private}, "/q")
		if (err != nil) != tt.err {
			t.Errorf("%q: err %v, want error %v", tt.name, err, tt.err)
			continue
		}
		if err == nil && (sk.Address != filepath.Clean(tt.path) || sk.Mode != tt.mode || sk.Network != "unix") {
			t.Errorf("%q: got %s %o, want %s %o", tt.name, sk.Address, sk.Mode, tt.path, tt.mode)
		}
	}
}

func TestListenerItem(t *testing.T) {
	tests := []struct {
		spec sockSpec
		want string
	}{
		{sockSpec{Service: "pickup", Type: "unix", Wakeup: 60}, "pickup:unix:60"},
		{sockSpec{Service: "smtp", Type: "inet"}, "smtp:inet:0"},
		{sockSpec{Service: "127.0.0.1:25", Type: "inet"}, "127.0.0.1_25:inet:0"},
		{sockSpec{Service: "[::1]:25", Type: "inet"}, "[__1]_25:inet:0"},
	}
	for _, tt := range tests {
		got := listenerItem(tt.spec)
		if got != tt.want {
			t.Errorf("listenerItem(%+v) = %q, want %q", tt.spec, got, tt.want)
		}
		if n := len(strings.Split(got, ":")); n != 3 {
			t.Errorf("%q has %d fields, pkg/daemon wants 3", got, n)
		}
	}
}
