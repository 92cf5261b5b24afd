package master

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/daemon"
)

// testOwner is the current user as mail_owner, so chown is a no-op even
// when the tests run as root.
func testOwner(t *testing.T) owner {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	o, err := lookupOwner(u.Username, os.Geteuid() == 0)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestPrepareDataDir: data_directory was never created, so smtpd could
// not open postscreen_cache_map's file in it. start and check create it
// (0700, mail_owner's as root) and leave an existing one's mode alone.
func TestPrepareDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lib", "tern")
	o := testOwner(t)
	if err := prepareDataDir(dir, o); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		t.Fatalf("data_directory: %v, %v", st, err)
	}
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := prepareDataDir(dir, o); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o750 {
		t.Errorf("an existing data_directory's mode changed to %v", st.Mode().Perm())
	}
	if err := prepareDataDir("lib/tern", o); err == nil {
		t.Error("a relative data_directory was accepted")
	}
}

func TestPrepareDirs(t *testing.T) {
	q := filepath.Join(t.TempDir(), "spool", "tern")
	o := testOwner(t)
	for round := 0; round < 2; round++ { // the second round fixes modes
		if err := prepareDirs(q, o); err != nil {
			t.Fatal(err)
		}
		for _, d := range queueDirs() {
			st, err := os.Stat(filepath.Join(q, d.Name))
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode() & (os.ModePerm | os.ModeSticky); got != d.Mode {
				t.Errorf("round %d: %q mode %v, want %v", round, d.Name, got, d.Mode)
			}
		}
		if err := os.Chmod(filepath.Join(q, "maildrop"), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	// As root, queue.db exists for qmgr (as mail_owner) to open.
	if _, err := os.Stat(filepath.Join(q, "queue.db")); (err == nil) != o.Root {
		t.Errorf("queue.db as root=%v: %v", o.Root, err)
	}
	if err := prepareDirs("relative/dir", o); err == nil {
		t.Error("relative queue_directory accepted")
	}
}

func TestLookupOwner(t *testing.T) {
	o, err := lookupOwner("no-such-user-tern-xyz", false)
	if err != nil || o.Root || o.Name != "no-such-user-tern-xyz" {
		t.Errorf("non-root lookup: %+v, %v", o, err)
	}
	if _, err := lookupOwner("no-such-user-tern-xyz", true); err == nil {
		t.Error("root lookup of a missing user succeeded")
	}
}

func TestPidLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.pid")
	if _, running, err := masterPID(path); err != nil || running {
		t.Fatalf("no file: running %v, %v", running, err)
	}
	l, err := lockPID(path)
	if err != nil {
		t.Fatal(err)
	}
	if pid, running, err := masterPID(path); err != nil || !running || pid != 0 {
		t.Errorf("locked, no pid yet: %d %v %v", pid, running, err)
	}
	if _, err := lockPID(path); !errors.Is(err, ErrRunning) {
		t.Errorf("second lock: %v, want ErrRunning", err)
	}
	if err := l.writePID(4242); err != nil {
		t.Fatal(err)
	}
	if pid, running, err := masterPID(path); err != nil || !running || pid != 4242 {
		t.Errorf("locked: %d %v %v", pid, running, err)
	}
	l.release()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind: %v", err)
	}
	// A stale file nobody locks means not running, and can be taken over.
	if err := os.WriteFile(path, []byte("   999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, running, _ := masterPID(path); running {
		t.Error("stale pid file reported running")
	}
	l, err = lockPID(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.release()
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Errorf("stale pid not truncated: %q", data)
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := removeStale(file); err == nil {
		t.Error("regular file removed as a stale socket")
	}
	if err := removeStale(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("missing path: %v", err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if err := removeStale(sock); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale socket still there: %v", err)
	}
}

func TestSocketSetSync(t *testing.T) {
	dir := t.TempDir()
	o := testOwner(t)
	unix := func(name string, mode os.FileMode) sockSpec {
		return sockSpec{Service: name, Type: "unix", Network: "unix", Address: filepath.Join(dir, name), Mode: mode}
	}
	inet := sockSpec{Service: "127.0.0.1:0", Type: "inet", Network: "tcp", Address: "127.0.0.1:0"}
	var warns []string
	var bound []string
	h := syncHooks{
		warn:  func(f string, a ...any) { warns = append(warns, f) },
		bound: func(s *socket) { bound = append(bound, s.spec.Service) },
	}
	set := socketSet{}
	defer set.closeAll()
	first, err := set.sync([]procSpec{{Sockets: []sockSpec{unix("a", 0o600), inet}}, {Sockets: []sockSpec{unix("b", 0o666)}}}, o, true, h)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bound, []string{"a", "127.0.0.1:0", "b"}) || len(first) != 2 || len(first[0]) != 2 {
		t.Fatalf("bound %q, result %v", bound, first)
	}
	for name, mode := range map[string]os.FileMode{"a": 0o600, "b": 0o666} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != mode {
			t.Errorf("%s: %v %v, want socket mode %v", name, st.Mode(), err, mode)
		}
	}
	port := first[0][1].addr()
	// Keep a (with a new mode) and the inet socket, drop b, add c.
	bound = nil
	second, err := set.sync([]procSpec{{Sockets: []sockSpec{inet, unix("a", 0o666), unix("c", 0o600)}}}, o, false, h)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bound, []string{"c"}) {
		t.Errorf("second sync bound %q, want only c", bound)
	}
	if second[0][0] != first[0][1] || second[0][0].addr() != port || second[0][1] != first[0][0] {
		t.Error("unchanged sockets were not kept")
	}
	if _, err := os.Lstat(filepath.Join(dir, "b")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket b not removed: %v", err)
	}
	if st, _ := os.Stat(filepath.Join(dir, "a")); st.Mode().Perm() != 0o666 {
		t.Errorf("kept socket a mode %v, want 0666", st.Mode().Perm())
	}
	// A bind failure is fatal when strict, a warning otherwise.
	busy := sockSpec{Service: "busy", Type: "inet", Network: "tcp", Address: port}
	procs := []procSpec{{Sockets: []sockSpec{busy}}}
	if _, err := (socketSet{}).sync(procs, o, true, h); err == nil {
		t.Error("strict sync ignored a bind failure")
	}
	warns = nil
	if res, err := (socketSet{}).sync(procs, o, false, h); err != nil || len(res[0]) != 0 || len(warns) != 1 {
		t.Errorf("lenient sync: %v %v, warnings %q", res, err, warns)
	}
}

func TestChildEnviron(t *testing.T) {
	p := procSpec{
		Daemon: "smtpd", Service: "submission", Unpriv: true, Chroot: true, MaxProc: 7,
		Overrides: [][2]string{{"syslog_name", "tern/submission"}, {"smtpd_tls_security_level", "encrypt"}},
	}
	socks := []*socket{{spec: sockSpec{Service: "submission", Type: "inet"}}, {spec: sockSpec{Service: "x", Type: "unix", Wakeup: 5}}}
	base := []string{"PATH=/bin", "TERN_USER=evil", "TERN_MASTER_NOTIFY_FD=3", "HOME=/root"}
	tests := []struct {
		root         bool
		user, chroot string
	}{
		{true, "postfix", "/var/spool/tern"},
		{false, "", ""},
	}
	for _, tt := range tests {
		e := childEnv{ConfigDir: "/etc/tern", QueueDir: "/var/spool/tern", Owner: owner{Name: "postfix", Root: tt.root}}
		env := e.environ(base, p, socks)
		want := []string{
			"PATH=/bin", "HOME=/root",
			daemon.EnvConfigDir + "=/etc/tern",
			daemon.EnvListeners + "=submission:inet:0,x:unix:5",
			daemon.EnvOverrides + "=syslog_name=tern/submission\nsmtpd_tls_security_level=encrypt",
			daemon.EnvUser + "=" + tt.user,
			daemon.EnvChroot + "=" + tt.chroot,
			daemon.EnvMaxProc + "=7",
			daemon.EnvService + "=submission",
		}
		if !slices.Equal(env, want) {
			t.Errorf("root=%v:\n got %q\nwant %q", tt.root, env, want)
		}
	}
	p.Unpriv, p.Chroot = false, false
	env := childEnv{Owner: owner{Name: "postfix", Root: true}}.environ(nil, p, nil)
	if !slices.Contains(env, daemon.EnvUser+"=") || !slices.Contains(env, daemon.EnvChroot+"=") {
		t.Errorf("privileged service got a user or chroot: %q", strings.Join(env, " "))
	}
}

// TestSeveralOverridesDoNotBreakExec pins a bug: the -o overrides were
// joined with NUL bytes, which no environment can hold, so a service with
// two or more -o options could never start ("environment variable
// contains NUL").
func TestSeveralOverridesDoNotBreakExec(t *testing.T) {
	p := procSpec{Daemon: "smtpd", Service: "submission",
		Overrides: [][2]string{{"syslog_name", "tern/submission"}, {"smtpd_tls_security_level", "encrypt"}, {"smtpd_sasl_auth_enable", "yes"}}}
	env := childEnv{ConfigDir: "/etc/tern"}.environ([]string{"PATH=/usr/bin:/bin"}, p, nil)
	cmd := exec.Command("/bin/sh", "-c", `printf '%s' "$`+daemon.EnvOverrides+`"`)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exec with the daemon environment: %v", err)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) != 3 || lines[2] != "smtpd_sasl_auth_enable=yes" {
		t.Errorf("overrides lost on the way: %q", out)
	}
}
