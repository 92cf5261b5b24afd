// Package tests holds the integration tests: each starts the real suite
// (master and every daemon, from the binary built in TestMain) in a
// temporary folder and talks to it with real peers.
package tests

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
)

// binDir holds the tern binary and its sendmail/mailq/newaliases links,
// built once for the whole package by TestMain.
var binDir string

func TestMain(m *testing.M) {
	code, err := runMain(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runMain(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "tern-bin-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return 0, err
	}
	// As make build does: tern, and sendmail as its own static binary.
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "tern"), "../cmd/tern")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("build tern: %w", err)
	}
	build = exec.Command("go", "build", "-o", filepath.Join(dir, "sendmail"), "../cmd/sendmail")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("build sendmail: %w", err)
	}
	for link, target := range map[string]string{"mailq": "sendmail", "newaliases": "tern", "postsuper": "tern", "postcat": "tern"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			return 0, err
		}
	}
	binDir = dir
	return m.Run(), nil
}

func isRoot() bool { return os.Geteuid() == 0 }

// instance is one tern installation in a temporary folder.
type instance struct {
	t       *testing.T
	dir     string
	conf    string // config directory (-c)
	queue   string
	spool   string // mail_spool_directory
	logFile string
	runAs   *user.User // nil: the test's own user
	env     []string   // extra environment for its commands (NAME=value)
	started bool
}

// options shape an instance.
type options struct {
	main    []string // extra main.cf lines, appended (later ones win)
	aliases string   // aliases file content
	runAs   string   // run the suite as this user (root only)
	master  string   // master.cf content; "" = testMasterCF
}

// newInstance writes the configuration of an instance; start runs it.
func newInstance(t *testing.T, opt options) *instance {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir's folders are 0700: daemons running as another user must
	// reach their queue and spool.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	in := &instance{t: t, dir: dir, conf: filepath.Join(dir, "etc"), queue: filepath.Join(dir, "queue"),
		spool: filepath.Join(dir, "mail"), logFile: filepath.Join(dir, "maillog")}
	owner := currentUser(t).Username
	if opt.runAs != "" {
		if !isRoot() {
			t.Skip("running an instance as another user needs root")
		}
		u, err := user.Lookup(opt.runAs)
		if err != nil {
			t.Skipf("test user %s missing (run tests/setup-users.sh as root): %v", opt.runAs, err)
		}
		in.runAs = u
		owner = u.Username
	} else if isRoot() {
		owner = "postfix"
	}
	mustMkdir(t, in.conf, 0o755)
	mustMkdir(t, in.spool, 0o1777)
	if err := os.Chmod(in.spool, 0o1777); err != nil {
		t.Fatal(err)
	}
	mainCF := []string{
		"queue_directory = " + in.queue,
		"data_directory = " + filepath.Join(dir, "data"),
		"maillog_file = " + in.logFile,
		"maillog_file_prefixes = " + dir,
		"mail_spool_directory = " + in.spool,
		"mail_owner = " + owner,
		"myhostname = mail.example.tst",
		"mydomain = example.tst",
		"myorigin = example.tst",
		"mydestination = $myhostname, example.tst, localhost",
		"inet_interfaces = 127.0.0.1",
		"alias_maps = hash:" + filepath.Join(in.conf, "aliases"),
		"alias_database = hash:" + filepath.Join(in.conf, "aliases"),
		"minimal_backoff_time = 1s",
		"maximal_backoff_time = 2s",
		"queue_run_delay = 1s",
	}
	mainCF = append(mainCF, opt.main...)
	in.write("etc/main.cf", strings.Join(mainCF, "\n")+"\n")
	if opt.master == "" {
		opt.master = testMasterCF
	}
	in.write("etc/master.cf", opt.master)
	in.write("etc/aliases", opt.aliases)
	if in.runAs != nil {
		in.chownAll(dir)
	}
	in.run("newaliases")
	return in
}

const testMasterCF = `# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       qmgr
cleanup   unix  n       -       n       -       0       qmgr
qmgr      unix  n       -       n       300     1       qmgr
showq     unix  n       -       n       -       -       qmgr
local     unix  -       n       n       -       -       local
`

func currentUser(t *testing.T) *user.User {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustMkdir(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(path, mode); err != nil {
		t.Fatal(err)
	}
}

func (in *instance) write(rel, content string) {
	in.t.Helper()
	path := filepath.Join(in.dir, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		in.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		in.t.Fatal(err)
	}
	if in.runAs != nil {
		in.chownAll(path)
	}
}

func (in *instance) chownAll(root string) {
	uid, _ := strconv.Atoi(in.runAs.Uid)
	gid, _ := strconv.Atoi(in.runAs.Gid)
	_ = filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			err = os.Lchown(p, uid, gid)
		}
		return err
	})
}

// appendMain adds lines to the instance's main.cf; later lines win.
func (in *instance) appendMain(lines ...string) {
	in.t.Helper()
	path := filepath.Join(in.conf, "main.cf")
	b, err := os.ReadFile(path)
	if err != nil {
		in.t.Fatal(err)
	}
	in.write("etc/main.cf", string(b)+strings.Join(lines, "\n")+"\n")
}

// command prepares a tern command (or one of its link names) for this
// instance, as the instance's user.
func (in *instance) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(binDir, name), args...)
	cmd.Env = append(append(os.Environ(), in.env...), "MAIL_CONFIG="+in.conf)
	in.setCredential(cmd)
	return cmd
}

func (in *instance) setCredential(cmd *exec.Cmd) {
	if in.runAs == nil {
		return
	}
	uid, _ := strconv.Atoi(in.runAs.Uid)
	gid, _ := strconv.Atoi(in.runAs.Gid)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	cmd.Env = append(cmd.Env, "HOME="+in.runAs.HomeDir, "USER="+in.runAs.Username, "LOGNAME="+in.runAs.Username)
}

// run runs a tern command and fails the test unless it exits 0.
func (in *instance) run(name string, args ...string) string {
	in.t.Helper()
	out, err := in.command(name, args...).CombinedOutput()
	if err != nil {
		in.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// start starts the suite and arranges for it to be stopped.
func (in *instance) start() {
	in.t.Helper()
	in.run("tern", "start")
	in.started = true
	in.t.Cleanup(in.stopQuietly)
}

func (in *instance) stop() {
	in.t.Helper()
	in.run("tern", "stop")
	in.started = false
}

func (in *instance) stopQuietly() {
	if !in.started {
		return
	}
	if out, err := in.command("tern", "stop").CombinedOutput(); err != nil {
		in.t.Logf("stop: %v: %s", err, out)
	}
	in.started = false
	if in.t.Failed() {
		if b, err := os.ReadFile(in.logFile); err == nil {
			in.t.Logf("maillog:\n%s", b)
		}
	}
}

// sendmail submits a message with the given arguments, returning the exit
// status and output.
func (in *instance) sendmail(input string, args ...string) (int, string) {
	in.t.Helper()
	cmd := in.command("sendmail", args...)
	cmd.Stdin = strings.NewReader(input)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		in.t.Fatalf("sendmail: %v", err)
	}
	return 0, string(out)
}

// log returns the maillog so far.
func (in *instance) log() string {
	b, _ := os.ReadFile(in.logFile)
	return string(b)
}

// waitFor polls cond every 20ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, timeout, what, cond)
}

// waitLog waits until the maillog contains s.
func (in *instance) waitLog(s string, timeout time.Duration) {
	in.t.Helper()
	waitFor(in.t, timeout, fmt.Sprintf("log line %q", s), func() bool { return strings.Contains(in.log(), s) })
}

// waitDeferred waits until mailq lists each of ids as waiting in the
// queue, neither in a delivery pass (*) nor held (!). qmgr saves a
// deferral and its reason a moment after the agent has logged it; until
// then a flush does not find the message and a listing lacks the reason.
func (in *instance) waitDeferred(ids ...string) {
	in.t.Helper()
	waitFor(in.t, deliveryTimeout, fmt.Sprintf("mailq to list %v as deferred", ids), func() bool {
		q := in.run("mailq")
		for _, id := range ids {
			if !strings.Contains(q, "\n"+id+" ") {
				return false
			}
		}
		return true
	})
}

// waitQueueEmpty waits until mailq says the queue is empty: every
// delivery, and any bounce of one, is over, so what a test then finds
// missing will not come later.
func (in *instance) waitQueueEmpty() {
	in.t.Helper()
	waitFor(in.t, deliveryTimeout, "an empty queue", func() bool {
		return strings.Contains(in.run("mailq"), "Mail queue is empty")
	})
}

// waitQueueListing runs a queue listing (mailq, tern queue list, ...)
// until its output holds each of want, for the reason waitDeferred
// gives, and returns that output.
func (in *instance) waitQueueListing(want []string, name string, args ...string) string {
	in.t.Helper()
	var out string
	waitFor(in.t, deliveryTimeout, fmt.Sprintf("%s %s to show %q", name, strings.Join(args, " "), want), func() bool {
		out = in.run(name, args...)
		for _, w := range want {
			if !strings.Contains(out, w) {
				return false
			}
		}
		return true
	})
	return out
}

// reload runs tern reload and waits until master has stopped the old
// daemons: it logs the parameters it runs with once they are gone, so
// what the test does next meets only daemons with the new configuration.
func (in *instance) reload() {
	in.t.Helper()
	before := len(in.log())
	in.run("tern", "reload")
	waitFor(in.t, deliveryTimeout, "the reload to finish", func() bool {
		log := in.log()
		if len(log) < before {
			before = 0 // the log was rotated
		}
		_, after, ok := strings.Cut(log[before:], "reload -- version")
		return ok && strings.Contains(after, "starting with: ")
	})
}

// waitLogMatch waits until the maillog matches re. A daemon's line about
// a message may come after another daemon has already acted on it (smtpd
// logs client= once qmgr has the message), so tests wait for it.
func (in *instance) waitLogMatch(re *regexp.Regexp, timeout time.Duration) {
	in.t.Helper()
	waitFor(in.t, timeout, fmt.Sprintf("log line matching %q", re), func() bool { return re.MatchString(in.log()) })
}

// mbox reads a user's mailbox in the spool ("" when absent).
func (in *instance) mbox(user string) string {
	b, _ := os.ReadFile(filepath.Join(in.spool, user))
	return string(b)
}

// mboxMessages splits an mbox into its messages (each starting with its
// "From " line).
func mboxMessages(mbox string) []string {
	var msgs []string
	for _, part := range strings.Split("\n"+mbox, "\n\nFrom ") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		part = strings.TrimPrefix(part, "\n")
		if !strings.HasPrefix(part, "From ") {
			part = "From " + part
		}
		msgs = append(msgs, part)
	}
	return msgs
}

// localUser is the user tests deliver to: usera when root (a system user
// created by tests/setup-users.sh), else the test's own user.
func localUser(t *testing.T) string {
	if isRoot() {
		if _, err := user.Lookup("usera"); err != nil {
			t.Skip("user usera missing: run tests/setup-users.sh as root")
		}
		return "usera"
	}
	return currentUser(t).Username
}

// daemonPIDs returns the pids of this instance's processes running the
// given daemon ("qmgr", "local") or "master".
func (in *instance) daemonPIDs(name string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) < 2 || filepath.Base(args[0]) != "tern" {
			continue
		}
		match := false
		switch {
		case name == "master":
			match = args[1] == "master"
		case len(args) >= 3:
			match = args[1] == "daemon" && args[2] == name
		}
		if !match {
			continue
		}
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		environ = append([]byte{0}, environ...)
		if bytes.Contains(environ, []byte("\x00TERN_CONFIG_DIR="+in.conf+"\x00")) ||
			bytes.Contains(environ, []byte("\x00MAIL_CONFIG="+in.conf+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func userLookup(name string) (string, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", err
	}
	return u.Uid, nil
}
