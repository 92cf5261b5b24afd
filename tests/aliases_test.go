package tests

import (
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
)

func homeOf(t *testing.T, name string) string {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Skipf("user %s: %v", name, err)
	}
	return u.HomeDir
}

func assertOwner(t *testing.T, path, name string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid)); got != u.Uid {
		t.Errorf("%s owned by uid %s, want %s (%s)", path, got, u.Uid, name)
	}
}

// TestAliasesAllTargetKinds covers aliases(5): an address, a |command, a
// /file and an :include: file, plus recursion through another alias.
func TestAliasesAllTargetKinds(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	out := filepath.Join(in.dir, "out")
	mustMkdir(t, out, 0o777)
	os.Chmod(out, 0o777)
	in.write("etc/include.list", "inclusion-target\n")
	in.write("etc/aliases", fmt.Sprintf(`# test aliases
team: member, "|cat > %[1]s/command.out", %[1]s/file.out
member: %[2]s
inc: :include:%[3]s
inclusion-target: %[2]s
`, out, rcpt, filepath.Join(in.conf, "include.list")))
	in.run("newaliases")
	in.start()
	if code, o := in.sendmail("Subject: to team\n\nteam body\n", "team"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, o)
	}
	if code, o := in.sendmail("Subject: to inc\n\ninc body\n", "inc@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, o)
	}
	waitFor(t, deliveryTimeout, "mailbox delivery via alias and include", func() bool {
		box := in.mbox(rcpt)
		return strings.Contains(box, "team body") && strings.Contains(box, "inc body")
	})
	waitFor(t, deliveryTimeout, "command delivery", func() bool { return fileContains(filepath.Join(out, "command.out"), "team body") })
	waitFor(t, deliveryTimeout, "file delivery", func() bool { return fileContains(filepath.Join(out, "file.out"), "team body") })
	if b, _ := os.ReadFile(filepath.Join(out, "file.out")); !strings.HasPrefix(string(b), "From ") {
		t.Errorf("file delivery is not in mbox format:\n%s", b)
	}
	in.waitLog("orig_to=<team>", deliveryTimeout) // as given to sendmail, as Postfix logs it
	// As in Postfix: a line, in full, for each delivery team led to
	// (its command and file under team's own address), none for team as
	// a whole.
	in.waitQueueEmpty()
	log := in.log()
	for _, want := range []string{
		"to=<" + rcpt + "@example.tst>, orig_to=<team>, relay=local, delay=%, dsn=2.0.0, status=sent (delivered to mailbox)",
		"to=<team@example.tst>, orig_to=<team>, relay=local, delay=%, dsn=2.0.0, status=sent (delivered to command: cat > " + out + "/command.out)",
		"to=<team@example.tst>, orig_to=<team>, relay=local, delay=%, dsn=2.0.0, status=sent (delivered to file: " + out + "/file.out)",
	} {
		before, after, _ := strings.Cut(regexp.QuoteMeta(want), "%")
		re := regexp.MustCompile(`tern/local\[\d+\]: \w+: ` + before + `[\d.]+, delays=[\d./]+` + after + `\n`)
		if n := len(re.FindAllString(log, -1)); n != 1 {
			t.Errorf("%d lines like %q, want 1:\n%s", n, want, log)
		}
	}
	if n := strings.Count(log, "to=<team@example.tst>"); n != 2 {
		t.Errorf("%d lines for team itself, want 2 (command, file):\n%s", n, log)
	}
}

// TestReferenceLocalDomainAliases runs the aliases file of the reference
// local-domain setup: userA keeps a copy and userB gets one too; userC's
// mail goes only to userB.
func TestReferenceLocalDomainAliases(t *testing.T) {
	if !isRoot() {
		t.Skip("needs the system users usera, userb, userc (root)")
	}
	for _, u := range []string{"usera", "userb", "userc"} {
		homeOf(t, u)
	}
	ref, err := os.ReadFile("../../shared/reference/local-domain/aliases")
	if err != nil {
		t.Skipf("reference setup not beside the repository: %v", err)
	}
	in := newInstance(t, options{aliases: string(ref)})
	in.start()
	in.sendmail("Subject: for A\n\nmsg-for-a\n", "userA@example.tst")
	in.sendmail("Subject: for C\n\nmsg-for-c\n", "userC@example.tst")
	waitFor(t, deliveryTimeout, "deliveries", func() bool {
		return strings.Contains(in.mbox("userb"), "msg-for-a") && strings.Contains(in.mbox("userb"), "msg-for-c") &&
			strings.Contains(in.mbox("usera"), "msg-for-a")
	})
	in.waitQueueEmpty()
	if strings.Contains(in.mbox("usera"), "msg-for-c") || in.mbox("userc") != "" {
		t.Errorf("userC's mail went beyond userB: usera=%q userc=%q", in.mbox("usera"), in.mbox("userc"))
	}
	assertOwner(t, filepath.Join(in.spool, "userb"), "userb")
}

func TestDotForward(t *testing.T) {
	if !isRoot() {
		t.Skip(".forward is tested as root with the test users")
	}
	home := homeOf(t, "userc")
	homeOf(t, "userb")
	fwd := filepath.Join(home, ".forward")
	t.Cleanup(func() { os.Remove(fwd) })
	if err := os.WriteFile(fwd, []byte("userb, \\userc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u, _ := user.Lookup("userc")
	uid, _ := strconv.Atoi(u.Uid)
	os.Chown(fwd, uid, -1)
	in := newInstance(t, options{})
	in.start()
	in.sendmail("Subject: forwarded\n\nforward body\n", "userc")
	waitFor(t, deliveryTimeout, "forwarded copies", func() bool {
		return strings.Contains(in.mbox("userb"), "forward body") && strings.Contains(in.mbox("userc"), "forward body")
	})
}

// TestFailingCommandAliasBounces checks that a |command alias that fails
// returns the message to its sender as an RFC 3464 report that Python's
// email package parses.
func TestFailingCommandAliasBounces(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	sender := localUser(t)
	in := newInstance(t, options{aliases: "broken: \"|echo no such thing >&2; exit 1\"\n"})
	in.start()
	if code, o := in.sendmail("Subject: to broken\n\nbroken body\n", "-f", sender+"@example.tst", "broken"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, o)
	}
	waitFor(t, deliveryTimeout, "the bounce", func() bool { return strings.Contains(in.mbox(sender), "multipart/report") })
	msgs := mboxMessages(in.mbox(sender))
	bounce := msgs[len(msgs)-1]
	_, bounce, _ = strings.Cut(bounce, "\n") // drop the From_ line
	path := filepath.Join(in.dir, "bounce.eml")
	in.write("bounce.eml", bounce)
	script := `
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
assert m.get_content_type() == 'multipart/report', m.get_content_type()
assert m.get_param('report-type') == 'delivery-status'
parts = list(m.iter_parts())
ds = [p for p in parts if p.get_content_type() == 'message/delivery-status']
assert ds, [p.get_content_type() for p in parts]
blocks = ds[0].get_payload()
rcpt = blocks[1]
print(rcpt['Action'], rcpt['Status'], rcpt['Final-Recipient'], '|', rcpt['Diagnostic-Code'])
`
	out, err := exec.Command(python, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python could not parse the bounce: %v\n%s\n%s", err, out, bounce)
	}
	got := string(out)
	for _, want := range []string{"failed", "5.3.0", "broken@example.tst", "no such thing"} {
		if !strings.Contains(got, want) {
			t.Errorf("delivery-status %q lacks %q", got, want)
		}
	}
	in.waitLog("sender non-delivery notification", deliveryTimeout)
}

func fileContains(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}

// TestCommandEnvironment: a |command alias runs with Postfix's variables
// and with export_environment, and nothing else of the environment tern
// was started with (import_environment filters what reaches the daemons).
func TestCommandEnvironment(t *testing.T) {
	in := newInstance(t, options{main: []string{
		"import_environment = MAIL_CONFIG TZ=UTC LANG=C",
		"export_environment = TZ LANG EXTRA=exported",
	}})
	in.env = append(in.env, "SHELL_LEFTOVER=leaked")
	out := filepath.Join(in.dir, "out")
	mustMkdir(t, out, 0o777)
	os.Chmod(out, 0o777)
	in.write("etc/aliases", fmt.Sprintf("envdump: \"|env > %s/env.out\"\n", out))
	in.run("newaliases")
	in.start()
	if code, o := in.sendmail("Subject: env\n\nx\n", "-f", "sender@example.org", "envdump"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, o)
	}
	path := filepath.Join(out, "env.out")
	waitFor(t, deliveryTimeout, "the command's output", func() bool { return fileContains(path, "PATH=") })
	b, _ := os.ReadFile(path)
	env := string(b)
	for _, want := range []string{"TZ=UTC\n", "LANG=C\n", "EXTRA=exported\n", "SENDER=sender@example.org\n", "RECIPIENT=envdump@example.tst\n", "PATH=/usr/bin:/bin\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("command environment lacks %q:\n%s", want, env)
		}
	}
	if strings.Contains(env, "SHELL_LEFTOVER") {
		t.Errorf("the environment of tern start leaked into a command:\n%s", env)
	}
}

// TestSendmailBiRebuildsAliases runs sendmail -bi and -I, which the small
// sendmail binary hands to "tern newaliases" beside it: the new alias is
// in the rebuilt table each time.
func TestSendmailBiRebuildsAliases(t *testing.T) {
	in := newInstance(t, options{})
	table := "hash:" + filepath.Join(in.conf, "aliases")
	for i, flag := range []string{"-bi", "-I"} {
		alias := fmt.Sprintf("rebuilt-%d", i)
		in.write("etc/aliases", fmt.Sprintf("postmaster: root\n%s: target-%d\n", alias, i))
		in.run("sendmail", flag)
		if got := strings.TrimSpace(in.run("tern", "alias", "-q", alias, table)); got != fmt.Sprintf("target-%d", i) {
			t.Errorf("after sendmail %s: alias -q %s = %q, want target-%d", flag, alias, got, i)
		}
	}
}
