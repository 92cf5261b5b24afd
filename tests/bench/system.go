package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// flavor is what differs between the two mail systems: how they are
// configured, controlled and fed.
type flavor interface {
	// name is the label in the report: "tern" or "postfix".
	name() string
	// masterCF returns the master.cf content.
	masterCF() (string, error)
	// buildAliases compiles the aliases file.
	buildAliases(ctx context.Context, in *instance) error
	// control runs the start/stop/abort command.
	control(ctx context.Context, in *instance, action string) error
	// sendmail returns the command that submits one message.
	sendmail(ctx context.Context, in *instance, rcpt string) *exec.Cmd
	// smtpListen returns the master.cf service name (host:port) of the
	// SMTP listener.
	smtpListen() (string, error)
	// smtpAddr returns the address that listener bound, once started.
	smtpAddr(ctx context.Context, in *instance, service string) (string, error)
	// relayMaster returns the master.cf lines the relay phase needs
	// beyond the flavor's master.cf (its smtp client).
	relayMaster() []string
}

// instance is one mail system in its own temporary folder.
type instance struct {
	flavor
	dir     string // the temporary folder
	conf    string // config directory
	queue   string // queue_directory
	spool   string // mail_spool_directory
	logPath string // maillog_file
	rcpt    string // the one local recipient
	owner   string // mail_owner
	extra   extraConf
	running bool
}

// extraConf is what a phase adds to the shared configuration.
type extraConf struct {
	main   []string // main.cf lines appended to mainCF
	master []string // master.cf lines appended to the flavor's master.cf
}

// controlTimeout bounds a start or stop command.
const controlTimeout = 60 * time.Second

// newInstance writes the configuration of a system, with extra added, in
// a new temporary folder under tmpRoot ("": the system's). The caller
// must call close.
func newInstance(ctx context.Context, tmpRoot string, f flavor, rcpt, owner string, extra extraConf) (*instance, error) {
	dir, err := os.MkdirTemp(tmpRoot, "tern-bench-"+f.name()+"-")
	if err != nil {
		return nil, fmt.Errorf("temporary folder: %w", err)
	}
	in := &instance{flavor: f, dir: dir, conf: filepath.Join(dir, "etc"), queue: filepath.Join(dir, "queue"),
		spool: filepath.Join(dir, "mail"), logPath: filepath.Join(dir, "maillog"), rcpt: rcpt, owner: owner, extra: extra}
	if err := in.prepare(ctx); err != nil {
		in.close(false)
		return nil, fmt.Errorf("set up %s in %s: %w", f.name(), dir, err)
	}
	return in, nil
}

// prepare creates the folders and writes main.cf, master.cf and aliases.
func (in *instance) prepare(ctx context.Context) error {
	// Daemons running as mail_owner must reach the queue; the local
	// agent, writing as the recipient, must reach the spool.
	if err := os.Chmod(in.dir, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", in.dir, err)
	}
	for _, d := range []string{in.conf, in.queue, filepath.Join(in.dir, "data"), in.spool} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("mkdir %s: %w", d, err)
		}
	}
	if err := os.Chmod(in.spool, 0o1777); err != nil {
		return fmt.Errorf("chmod %s: %w", in.spool, err)
	}
	if err := chownUser(filepath.Join(in.dir, "data"), in.owner); err != nil {
		return err
	}
	master, err := in.masterCF()
	if err != nil {
		return err
	}
	for _, line := range in.extra.master {
		master += line + "\n"
	}
	aliases := "postmaster: " + in.rcpt + "\n"
	main := strings.Join(append(in.mainCF(), in.extra.main...), "\n") + "\n"
	for name, content := range map[string]string{"main.cf": main, "master.cf": master, "aliases": aliases} {
		path := filepath.Join(in.conf, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return in.buildAliases(ctx, in)
}

// mainCF is the main.cf both systems share: the same names, one
// local domain, mbox delivery into a spool of its own, Postfix's defaults
// for everything else (mailbox fsync and locking included).
func (in *instance) mainCF() []string {
	aliases := filepath.Join(in.conf, "aliases")
	return []string{
		"# Written by tern's bench: " + in.name() + " in a temporary folder.",
		"compatibility_level = 3.6",
		"queue_directory = " + in.queue,
		"data_directory = " + filepath.Join(in.dir, "data"),
		"maillog_file = " + in.logPath,
		"maillog_file_prefixes = " + in.dir,
		"mail_spool_directory = " + in.spool,
		"home_mailbox =",
		"mail_owner = " + in.owner,
		"myhostname = mail.example.tst",
		"mydomain = example.tst",
		"myorigin = example.tst",
		"mydestination = $myhostname, example.tst, localhost",
		"inet_interfaces = 127.0.0.1",
		"inet_protocols = ipv4",
		"alias_maps = hash:" + aliases,
		"alias_database = hash:" + aliases,
	}
}

// start starts the system.
func (in *instance) start(ctx context.Context) error {
	if err := in.control(ctx, in, "start"); err != nil {
		return err
	}
	in.running = true
	return nil
}

// stop stops the system and waits until its master has exited.
func (in *instance) stop(ctx context.Context) error {
	pid := in.masterPID()
	if err := in.control(ctx, in, "stop"); err != nil {
		return err
	}
	in.running = false
	if pid > 0 {
		return waitGone(ctx, pid, controlTimeout)
	}
	return nil
}

// close stops a running system (aborting it if stop fails) and removes
// the temporary folder unless keep is set. It is safe to call more than
// once.
func (in *instance) close(keep bool) {
	if in.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*controlTimeout)
	defer cancel()
	if in.running || in.masterPID() > 0 {
		if err := in.stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "bench: stop %s: %v; aborting it\n", in.name(), err)
			in.kill(ctx)
		}
	}
	if keep {
		fmt.Fprintf(os.Stderr, "bench: kept %s in %s\n", in.name(), in.dir)
	} else if err := os.RemoveAll(in.dir); err != nil {
		fmt.Fprintf(os.Stderr, "bench: remove %s: %v\n", in.dir, err)
	}
	in.dir = ""
}

// kill aborts the system and, failing that, kills its master.
func (in *instance) kill(ctx context.Context) {
	pid := in.masterPID()
	_ = in.control(ctx, in, "abort")
	if pid > 0 && waitGone(ctx, pid, 5*time.Second) != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	in.running = false
}

// masterPID reads the master's pid file (both systems keep it in
// $queue_directory/pid/master.pid); 0 when absent or stale.
func (in *instance) masterPID() int {
	b, err := os.ReadFile(filepath.Join(in.queue, "pid", "master.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

// waitGone polls until process pid has exited.
func waitGone(ctx context.Context, pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("master pid %d still running after %s", pid, limit)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// submit runs one sendmail call with msg on stdin; it fails unless the
// call exits 0.
func (in *instance) submit(ctx context.Context, msg []byte) error {
	callCtx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	cmd := in.sendmail(callCtx, in, in.rcpt)
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.CombinedOutput()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("%s sendmail: %w: %s", in.name(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// maildropCount counts the files waiting in $queue_directory/maildrop.
func (in *instance) maildropCount() (int, error) {
	entries, err := os.ReadDir(filepath.Join(in.queue, "maildrop"))
	if err != nil {
		return 0, fmt.Errorf("read maildrop: %w", err)
	}
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() {
			n++
		}
	}
	return n, nil
}

// mboxMessages counts the messages in the recipient's mbox ("From "
// lines after a blank line or at the start).
func (in *instance) mboxMessages() (int, error) {
	path := filepath.Join(in.spool, in.rcpt)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read mbox: %w", err)
	}
	n := bytes.Count(b, []byte("\n\nFrom "))
	if bytes.HasPrefix(b, []byte("From ")) {
		n++
	}
	return n, nil
}

// logTail returns the last lines of the system's maillog, for errors.
func (in *instance) logTail(lines int) string {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return "(no maillog: " + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// runCmd runs a command bounded by controlTimeout, returning its output
// in the error when it fails.
func runCmd(ctx context.Context, env []string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, controlTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", ctx.Err())
	case <-t.C:
		return nil
	}
}
