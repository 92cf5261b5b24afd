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
	"testing"
	"time"
)

// dovecotLMTP is a running Dovecot that only speaks LMTP, on a unix
// socket, and stores mail for the users of a passwd-file in Maildirs.
type dovecotLMTP struct {
	dir    string // base of its files
	socket string // the LMTP listener, an absolute path
	mail   string // mail_location base: mail for u@d goes to mail/d/u
}

// startDovecotLMTP runs Dovecot's LMTP service in a folder of its own with
// the given virtual users (full addresses). Their mail belongs to mailUser
// (Dovecot switches to that uid to write it). The server is stopped by
// t.Cleanup.
func startDovecotLMTP(t *testing.T, users []string, mailUser *user.User) dovecotLMTP {
	t.Helper()
	if _, err := exec.LookPath("dovecot"); err != nil {
		needPackage(t, "dovecot-core", "dovecot not installed")
	}
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		needPackage(t, "dovecot-lmtpd", "Dovecot's LMTP server is not installed")
	}
	dir := dovecotDir(t, "tern-lmtp-")
	d := dovecotLMTP{dir: dir, socket: filepath.Join(dir, "lmtp"), mail: filepath.Join(dir, "mail")}
	mustMkdir(t, d.mail, 0o755)
	uid, _ := strconv.Atoi(mailUser.Uid)
	gid, _ := strconv.Atoi(mailUser.Gid)
	if isRoot() {
		if err := os.Chown(d.mail, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	var passwd strings.Builder
	for _, u := range users {
		local, domain, _ := strings.Cut(u, "@")
		// user:password:uid:gid:gecos:home — the password is never used
		// (no login protocol), but passwd-file needs the field.
		fmt.Fprintf(&passwd, "%s:{PLAIN}unused:%d:%d::%s\n", u, uid, gid, filepath.Join(d.mail, domain, local))
	}
	runDovecot(t, dir, d.config(uid), map[string]string{"users": passwd.String()}, d.socket)
	return d
}

// config is the body of a Dovecot configuration with LMTP only and
// virtual users from a passwd-file.
func (d dovecotLMTP) config(uid int) string {
	var b strings.Builder
	b.WriteString("protocols = lmtp\nssl = no\n")
	fmt.Fprintf(&b, "mail_location = maildir:%s/%%d/%%n\n", d.mail)
	fmt.Fprintf(&b, "first_valid_uid = %d\nlast_valid_uid = 0\n", uid)
	fmt.Fprintf(&b, "passdb {\n  driver = passwd-file\n  args = username_format=%%u %s/users\n}\n", d.dir)
	fmt.Fprintf(&b, "userdb {\n  driver = passwd-file\n  args = username_format=%%u %s/users\n}\n", d.dir)
	fmt.Fprintf(&b, "service lmtp {\n  unix_listener %s {\n    mode = 0666\n  }\n}\n", d.socket)
	return b.String()
}

// maildirNew returns the contents of the messages in the new/ folder of
// the Maildir of local@domain.
func (d dovecotLMTP) maildirNew(local, domain string) []string {
	dir := filepath.Join(d.mail, domain, local, "new")
	entries, _ := os.ReadDir(dir)
	var msgs []string
	for _, e := range entries {
		if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil {
			msgs = append(msgs, string(b))
		}
	}
	return msgs
}

// mailUser is the owner of the virtual mailboxes: usera as root, else the
// test's own user.
func mailUser(t *testing.T) *user.User {
	t.Helper()
	u, err := user.Lookup(localUser(t))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestLMTPToDovecot: virt.tst goes over LMTP to a real Dovecot; of two
// recipients in one delivery the known one lands in its Maildir and the
// unknown one, refused by Dovecot, bounces alone to the sender.
func TestLMTPToDovecot(t *testing.T) {
	sender := localUser(t)
	dv := startDovecotLMTP(t, []string{"alice@virt.tst"}, mailUser(t))
	in := newInstance(t, options{
		master: testMasterCF + "lmtp unix - - n - - lmtp\n",
		main:   []string{"transport_maps = inline:{ virt.tst=lmtp:unix:" + dv.socket + " }"},
	})
	in.start()
	start := time.Now()
	code, out := in.sendmail("Subject: to dovecot\n\nlmtp body marker\n",
		"-f", sender+"@example.tst", "alice@virt.tst", "nosuchuser@virt.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}

	waitFor(t, deliveryTimeout, "the message in alice's Maildir", func() bool {
		for _, m := range dv.maildirNew("alice", "virt.tst") {
			if strings.Contains(m, "lmtp body marker") {
				return true
			}
		}
		return false
	})
	msgs := dv.maildirNew("alice", "virt.tst")
	if len(msgs) != 1 {
		t.Fatalf("alice's Maildir holds %d messages, want 1", len(msgs))
	}
	if !strings.Contains(msgs[0], "Subject: to dovecot") || !strings.Contains(msgs[0], "Delivered-To: alice@virt.tst") {
		t.Errorf("the delivered message lacks its Subject or Dovecot's Delivered-To:\n%s", msgs[0])
	}
	if entries, _ := os.ReadDir(filepath.Join(dv.mail, "virt.tst", "nosuchuser")); len(entries) != 0 {
		t.Errorf("a Maildir was made for the unknown user")
	}

	waitFor(t, deliveryTimeout, "the bounce in the mailbox of "+sender, func() bool {
		return strings.Contains(in.mbox(sender), "Undelivered Mail Returned to Sender")
	})
	t.Logf("delivered and bounced in %v", time.Since(start).Round(time.Millisecond))
	log := in.log()
	q := regexp.QuoteMeta
	sent := regexp.MustCompile(`tern/lmtp\[\d+\]: \w+: to=<alice@virt\.tst>, relay=[^,]*` + q(dv.socket) + `[^,]*, .*dsn=2\.\d+\.\d+, status=sent \(`)
	bounced := regexp.MustCompile(`tern/lmtp\[\d+\]: \w+: to=<nosuchuser@virt\.tst>, relay=[^,]*, .*dsn=5\.1\.1, status=bounced \(.*550`)
	if n := len(sent.FindAllString(log, -1)); n != 1 {
		t.Errorf("%d status=sent lines for alice@virt.tst with the socket as relay, want 1", n)
	}
	if n := len(bounced.FindAllString(log, -1)); n != 1 {
		t.Errorf("%d status=bounced lines with 5.1.1 for nosuchuser@virt.tst, want 1", n)
	}
	if strings.Contains(log, "to=<alice@virt.tst>") && regexp.MustCompile(`to=<alice@virt\.tst>.*status=(bounced|deferred)`).MatchString(log) {
		t.Errorf("alice@virt.tst was bounced or deferred as well")
	}

	mbox := in.mbox(sender)
	if n := len(mboxMessages(mbox)); n != 1 {
		t.Errorf("the sender's mailbox holds %d messages, want the one bounce", n)
	}
	for _, want := range []string{"Final-Recipient: rfc822; nosuchuser@virt.tst", "Action: failed", "Status: 5.1.1"} {
		if !strings.Contains(mbox, want) {
			t.Errorf("the bounce lacks %q:\n%s", want, mbox)
		}
	}
	if strings.Contains(mbox, "Final-Recipient: rfc822; alice@virt.tst") {
		t.Errorf("the bounce reports the delivered recipient:\n%s", mbox)
	}
}

// TestSendmailUTF8HeaderToDovecotLMTP pins Postfix's behaviour with
// Dovecot's LMTP server, which does not offer SMTPUTF8: with the default
// smtputf8_autodetect_classes (sendmail, verify), mail from sendmail
// whose header has raw UTF-8 asks for SMTPUTF8 and bounces there with
// 5.6.7, as Postfix's does; without sendmail among the classes it is
// delivered as it is, the workaround the man pages give.
func TestSendmailUTF8HeaderToDovecotLMTP(t *testing.T) {
	for _, tt := range []struct {
		name, classes string
		delivered     bool
	}{
		{"default classes: bounced", "", false},
		{"classes verify: delivered", "smtputf8_autodetect_classes = verify", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sender := localUser(t)
			dv := startDovecotLMTP(t, []string{"alice@virt.tst"}, mailUser(t))
			main := []string{"transport_maps = inline:{ virt.tst=lmtp:unix:" + dv.socket + " }"}
			if tt.classes != "" {
				main = append(main, tt.classes)
			}
			in := newInstance(t, options{master: testMasterCF + "lmtp unix - - n - - lmtp\n", main: main})
			in.start()
			code, out := in.sendmail("Subject: Grüße aus Köln\n\nutf8 lmtp marker\n", "-f", sender+"@example.tst", "alice@virt.tst")
			if code != 0 {
				t.Fatalf("sendmail: %d %s", code, out)
			}
			if tt.delivered {
				waitFor(t, deliveryTimeout, "the message in alice's Maildir", func() bool {
					msgs := dv.maildirNew("alice", "virt.tst")
					return len(msgs) == 1 && strings.Contains(msgs[0], "Subject: Grüße aus Köln")
				})
				return
			}
			waitFor(t, deliveryTimeout, "the 5.6.7 bounce", func() bool {
				return strings.Contains(in.log(), "dsn=5.6.7, status=bounced (SMTPUTF8 is required, but was not offered by host")
			})
			if msgs := dv.maildirNew("alice", "virt.tst"); len(msgs) != 0 {
				t.Errorf("the message was delivered as well")
			}
		})
	}
}
