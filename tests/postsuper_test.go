package tests

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// deferredIDs waits for each recipient's deferral in the log, and until
// qmgr has saved it, and returns the queue ids, by recipient.
func deferredIDs(t *testing.T, in *instance, rcpts ...string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	waitFor(t, 20*time.Second, "the deferrals", func() bool {
		for _, r := range rcpts {
			m := regexp.MustCompile(`(\w+): to=<` + regexp.QuoteMeta(r) + `>.*status=deferred`).FindStringSubmatch(in.log())
			if m == nil {
				return false
			}
			ids[r] = m[1]
		}
		return true
	})
	var list []string
	for _, id := range ids {
		list = append(list, id)
	}
	in.waitDeferred(list...)
	return ids
}

// TestQueueHoldReleaseDeleteRequeue drives the superuser's queue commands
// through the running suite: hold everything, release one message, delete
// one with the classic "mailq | awk | postsuper -d -" recipe, requeue the
// last, and check which reached the receiving MX.
func TestQueueHoldReleaseDeleteRequeue(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t, "minimal_backoff_time = 1h", "maximal_backoff_time = 2h", "queue_run_delay = 1h")
	kept, spam, later := rcpt+"@broken.tst", "spam-target@broken.tst", "later@broken.tst"
	for _, to := range []string{kept, spam, later} {
		if code, out := p.sender.sendmail("Subject: to "+to+"\n\nbody for "+to+"\n", to); code != 0 {
			t.Fatalf("sendmail: %d %s", code, out)
		}
	}
	ids := deferredIDs(t, p.sender, kept, spam, later)

	out := p.sender.run("tern", "queue", "hold", "ALL")
	if !strings.Contains(out, "tern queue hold: Placed on hold: 3 messages") {
		t.Errorf("hold output: %q", out)
	}
	// A message still in its delivery pass is held when the pass ends.
	for _, id := range ids {
		p.sender.waitLog(id+": placed on hold", 10*time.Second)
	}
	// A message held as its pass ends is logged as held just before it
	// leaves the active set, so mailq may show it active for a moment.
	waitFor(t, deliveryTimeout, "mailq to show three held messages", func() bool {
		return strings.Count(p.sender.run("mailq"), "!") == 3
	})
	// The superuser reads a queued message as with postcat -q.
	if out := p.sender.run("tern", "queue", "show", ids[kept]); !strings.Contains(out, "*** ENVELOPE RECORDS hold/"+ids[kept]+" ***") ||
		!strings.Contains(out, "\nrecipient: "+kept+"\n") || !strings.Contains(out, "\nbody for "+kept+"\n") {
		t.Errorf("tern queue show:\n%s", out)
	}
	if out := p.sender.run("postcat", "-b", "-q", ids[kept]); strings.Contains(out, "Subject:") || !strings.Contains(out, "body for "+kept) {
		t.Errorf("postcat -b -q:\n%s", out)
	}
	// DNS is back and the receiver takes broken.tst: a flush must leave
	// held mail alone.
	p.dns.SetBehavior("broken.tst", mxtest.Answer)
	p.receiver.run("tern", "conf", "-e", "mydestination = $myhostname, remote.tst, broken.tst")
	p.receiver.reload()
	p.sender.run("tern", "queue", "flush")

	out = p.sender.run("postsuper", "-H", ids[kept])
	if !strings.Contains(out, "postsuper: Released from hold: 1 message") {
		t.Errorf("release output: %q", out)
	}
	p.receiver.waitMbox(rcpt, "body for "+kept)

	// The recipe from postsuper(1), on tern's mailq output.
	recipe := `mailq | tail -n +2 | grep -v '^ *(' | awk 'BEGIN { RS = "" } { if ($8 == "` + spam + `" && $9 == "") print $1 }' | tr -d '*!' | postsuper -d -`
	sh := exec.Command("sh", "-c", recipe)
	sh.Env = append(p.sender.command("tern").Env, "PATH="+binDir+":/usr/bin:/bin")
	if b, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(b), "postsuper: Deleted: 1 message") {
		t.Errorf("%s: %v\n%s", recipe, err, b)
	}
	p.sender.waitLog(ids[spam]+": removed", 10*time.Second)

	out = p.sender.run("tern", "queue", "requeue", ids[later], "hold")
	if !strings.Contains(out, "Requeued: 1 message") {
		t.Errorf("requeue output: %q", out)
	}
	p.sender.waitLog(ids[later]+": requeued", 10*time.Second)
	waitFor(t, 20*time.Second, "an empty queue", func() bool {
		return strings.Contains(p.sender.run("mailq"), "Mail queue is empty")
	})
	log := p.sender.log()
	for _, want := range []string{ids[kept] + ": released from hold", ids[later] + ": requeued"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in the log", want)
		}
	}
	if regexp.MustCompile(`to=<` + regexp.QuoteMeta(spam) + `>.*status=sent`).MatchString(log) {
		t.Errorf("the deleted message was delivered:\n%s", log)
	}
	if !regexp.MustCompile(`to=<later@broken\.tst>.*status=(sent|bounced)`).MatchString(log) {
		t.Errorf("the requeued message was not tried again:\n%s", log)
	}
}

// TestQueueCommandsNeedTheSuperuser: another local user reaches qmgr's
// public sockets (sendmail -q and mailq work for everyone) but may not
// change the queue nor read queued mail.
func TestQueueCommandsNeedTheSuperuser(t *testing.T) {
	uid, gid := testutil.Nobody(t)
	in := newInstance(t, options{})
	in.start()
	if code, out := in.sendmail("Subject: x\n\nx\n", "-f", "a@example.tst", "nobody@nowhere.invalid"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	cmd := in.command("tern", "queue", "delete", "ALL")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "permission denied") {
		t.Errorf("as nobody: %v: %s", err, out)
	}
	in.waitLog("refusing a queue delete request from uid "+strconv.Itoa(uid), 10*time.Second)
	id := strings.Fields(strings.SplitN(in.run("mailq"), "\n", 3)[1])[0]
	cmd = in.command("tern", "queue", "show", strings.TrimRight(id, "*!"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "permission denied") {
		t.Errorf("show as nobody: %v: %s", err, out)
	}
	// Nothing was deleted: the superuser still finds the message.
	if out := in.run("tern", "queue", "delete", "ALL"); !strings.Contains(out, "Deleted: 1 message") {
		t.Errorf("as root: %q", out)
	}
}
