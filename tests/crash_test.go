package tests

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// sendLoop submits n messages to rcpt from `workers` concurrent sendmail
// processes and returns the tokens of those sendmail reported queued
// (exit 0). progress is incremented after each submission.
func (in *instance) sendLoop(t *testing.T, rcpt string, n, workers int, progress *atomic.Int64) map[string]bool {
	t.Helper()
	var mu sync.Mutex
	queued := map[string]bool{}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				token := fmt.Sprintf("token-%05d-end", i)
				code, out := in.sendmail("Subject: "+token+"\n\n"+token+"\n", rcpt)
				mu.Lock()
				if code == 0 {
					queued[token] = true
				} else {
					t.Logf("sendmail %s: exit %d: %s", token, code, out)
				}
				mu.Unlock()
				progress.Add(1)
			}
		}()
	}
	wg.Wait()
	return queued
}

var tokenRE = regexp.MustCompile(`(?m)^token-\d{5}-end$`)

// assertAllDelivered waits until every queued token is in rcpt's mbox.
func (in *instance) assertAllDelivered(t *testing.T, rcpt string, queued map[string]bool, timeout time.Duration) {
	t.Helper()
	var missing int
	deadline := time.Now().Add(timeout)
	for {
		got := map[string]bool{}
		for _, tok := range tokenRE.FindAllString(in.mbox(rcpt), -1) {
			got[tok] = true
		}
		missing = 0
		for tok := range queued {
			if !got[tok] {
				missing++
			}
		}
		if missing == 0 {
			t.Logf("%d messages queued, all delivered (%d distinct in mailbox)", len(queued), len(got))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages that sendmail reported queued were never delivered", missing, len(queued))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killAt sends SIGKILL to the instance's `daemon` processes when progress
// reaches each of the given counts, then runs after. It runs in its own
// goroutine, so it reports failure as an error rather than through t.
func (in *instance) killAt(daemon string, progress *atomic.Int64, at []int64, after func() error) (killed int, err error) {
	for _, n := range at {
		deadline := time.Now().Add(5 * time.Minute)
		for progress.Load() < n {
			if time.Now().After(deadline) {
				return killed, fmt.Errorf("progress stuck at %d", progress.Load())
			}
			time.Sleep(5 * time.Millisecond)
		}
		for _, pid := range in.daemonPIDs(daemon) {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		if after != nil {
			if err := after(); err != nil {
				return killed, err
			}
		}
	}
	return killed, nil
}

type killResult struct {
	killed int
	err    error
}

func randomPoints(n, total int) []int64 {
	pts := make([]int64, n)
	for i := range pts {
		lo := total * i / n
		pts[i] = int64(lo + 50 + rand.Intn(total/n-100))
	}
	return pts
}

func TestKillQmgrDuringSendmailLoopLosesNothing(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	const total = 2000
	var progress atomic.Int64
	done := make(chan killResult)
	go func() {
		n, err := in.killAt("qmgr", &progress, randomPoints(3, total), nil)
		done <- killResult{n, err}
	}()
	queued := in.sendLoop(t, rcpt, total, 4, &progress)
	if res := <-done; res.err != nil || res.killed < 3 {
		t.Errorf("killed qmgr %d times (want 3): %v", res.killed, res.err)
	}
	in.assertAllDelivered(t, rcpt, queued, 3*time.Minute)
	if len(queued) < total*9/10 {
		t.Errorf("only %d of %d submissions succeeded", len(queued), total)
	}
}

func TestKillMasterDuringSendmailLoopLosesNothing(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	const total = 2000
	var progress atomic.Int64
	done := make(chan killResult)
	restart := func() error {
		// The daemons follow master down; then start the system again.
		deadline := time.Now().Add(15 * time.Second)
		for len(in.daemonPIDs("qmgr"))+len(in.daemonPIDs("local")) > 0 {
			if time.Now().After(deadline) {
				return fmt.Errorf("daemons still running 15s after master died")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if out, err := in.command("tern", "start").CombinedOutput(); err != nil {
			return fmt.Errorf("tern start: %v: %s", err, out)
		}
		return nil
	}
	go func() {
		n, err := in.killAt("master", &progress, randomPoints(2, total), restart)
		done <- killResult{n, err}
	}()
	queued := in.sendLoop(t, rcpt, total, 4, &progress)
	if res := <-done; res.err != nil || res.killed < 2 {
		t.Fatalf("killed master %d times (want 2): %v", res.killed, res.err)
	}
	in.assertAllDelivered(t, rcpt, queued, 3*time.Minute)
	if len(queued) != total {
		t.Errorf("%d of %d submissions failed although maildrop was available", total-len(queued), total)
	}
}

func TestStopDuringDeliveriesLosesNothing(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	var progress atomic.Int64
	queued := in.sendLoop(t, rcpt, 300, 4, &progress)
	in.stop()
	in.start()
	in.assertAllDelivered(t, rcpt, queued, time.Minute)
	if strings.Count(in.log(), "terminating on signal 15") == 0 {
		t.Errorf("master did not log its stop")
	}
}

func TestRootDropsPrivileges(t *testing.T) {
	if !isRoot() {
		t.Skip("privilege drop needs root")
	}
	in := newInstance(t, options{})
	in.start()
	want := lookupUID(t, "postfix")
	// The daemon starts as root and drops privileges during start-up.
	var u string
	waitFor(t, 10*time.Second, "qmgr to run as postfix", func() bool {
		pids := in.daemonPIDs("qmgr")
		if len(pids) != 1 {
			return false
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pids[0]))
		u = uidLine(string(status))
		return err == nil && u == want
	})
	// local(8) keeps root to write as each recipient (master.cf unpriv n).
	pids := in.daemonPIDs("local")
	if len(pids) != 1 {
		t.Fatalf("%d local processes", len(pids))
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pids[0]))
	if got := uidLine(string(status)); got != "0" {
		t.Errorf("local runs as uid %s, want root", got)
	}
}

// TestOrdinaryUserInstance runs the whole suite as an ordinary user on
// unprivileged ports, as `make run` does.
func TestOrdinaryUserInstance(t *testing.T) {
	in := newInstance(t, options{runAs: "terntest"})
	in.start()
	if code, out := in.sendmail("Subject: unprivileged\n\nas terntest\n", "terntest"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox("terntest"), "as terntest") })
	assertOwner(t, in.spool+"/terntest", "terntest")
}

func uidLine(status string) string {
	for _, l := range strings.Split(status, "\n") {
		if strings.HasPrefix(l, "Uid:") {
			f := strings.Fields(l)
			if len(f) > 1 {
				return f[1]
			}
		}
	}
	return ""
}

func lookupUID(t *testing.T, name string) string {
	t.Helper()
	u, err := userLookup(name)
	if err != nil {
		t.Skipf("user %s: %v", name, err)
	}
	return u
}

// TestChrootedQmgr runs qmgr chrooted into the queue directory, as
// master.cf's chroot column asks, and checks mail still flows.
func TestChrootedQmgr(t *testing.T) {
	if !isRoot() {
		t.Skip("chroot needs root")
	}
	rcpt := localUser(t)
	chrooted := strings.NewReplacer("unix  n       -       n", "unix  n       -       y").Replace(testMasterCF)
	in := newInstance(t, options{master: chrooted})
	in.start()
	// qmgr chroots during its start-up: wait for it to be in the jail.
	in.waitChrooted("qmgr")
	if code, out := in.sendmail("Subject: jailed\n\nfrom the jail\n", rcpt); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox(rcpt), "from the jail") })
	in.waitLog(": removed", deliveryTimeout) // the mailbox is written before qmgr hears back
	if out := in.run("mailq"); !strings.Contains(out, "Mail queue is empty") {
		t.Errorf("mailq: %s", out)
	}
}

// waitChrooted waits until the instance's one daemon process of name has
// changed its root to the queue directory (it does so during its start).
func (in *instance) waitChrooted(name string) {
	in.t.Helper()
	waitFor(in.t, 10*time.Second, name+" chrooted into "+in.queue, func() bool {
		pids := in.daemonPIDs(name)
		if len(pids) != 1 {
			return false
		}
		root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pids[0]))
		return err == nil && root == in.queue
	})
}

// TestChrootedSmtpd: Debian's stock master.cf chroots smtpd
// ("smtp inet n - y - - smtpd"). In the queue directory the jail had no
// /etc: smtpd named every client "unknown" and refused local users as
// unknown in the local recipient table. master now copies the files
// Debian's Postfix copies there (hosts, resolv.conf, ...), and passwd and
// group, which tern's smtpd reads itself where Postfix asks its proxymap.
// An alias added with newaliases while smtpd ran in the jail was refused
// too: the rebuilt aliases.db was out of the jail's reach; tables now
// keep a handle on their directory. And check_policy_service
// unix:private/policy (Debian's policyd-spf) went to the socket's path
// outside the jail: every message was deferred.
func TestChrootedSmtpd(t *testing.T) {
	if !isRoot() {
		t.Skip("chroot needs root")
	}
	rcpt := localUser(t)
	dir := dovecotDir(t, "tern-jail-") // a folder that nobody can walk into
	script := filepath.Join(dir, "policy.sh")
	if err := os.WriteFile(script, []byte(spawnPolicy), 0o755); err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - y - - smtpd\npolicy unix - n n - 0 spawn\n  user=nobody argv=/bin/sh " + script + "\n",
		main: []string{"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/policy",
			"mynetworks = 192.0.2.0/24", "smtpd_error_sleep_time = 0"},
	})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	in.waitChrooted("smtpd")
	if _, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", rcpt+"@example.tst",
		"--ehlo", "client.remote.tst", "--body", "through the jailed smtpd"); err != nil {
		t.Fatalf("a local user was refused by the chrooted smtpd: %v\n%s", err, in.log())
	}
	in.waitMbox(rcpt, "through the jailed smtpd")
	in.waitLog("connect from localhost[127.0.0.1]", deliveryTimeout)
	in.write("etc/aliases", "newlist: "+rcpt+"\n")
	in.run("newaliases")
	waitFor(t, deliveryTimeout, "the jailed smtpd to take the new alias", func() bool {
		_, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", "newlist@example.tst",
			"--ehlo", "client.remote.tst", "--body", "to the new alias")
		return err == nil
	})
	in.waitMbox(rcpt, "to the new alias")
	out, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", "blocked@example.tst",
		"--ehlo", "client.remote.tst", "--body", "refused by the policy")
	if err == nil || !strings.Contains(out, "554 5.7.1 <blocked@example.tst>: Recipient address rejected: spawned policy says no") {
		t.Errorf("the jailed smtpd did not reach the policy server: %v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(in.queue, "etc", "hosts")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("etc/hosts in the jail: %v %v", fi, err)
	}
}
