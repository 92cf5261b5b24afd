package tests

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const deliveryTimeout = 20 * time.Second

func TestSendmailDeliversToMbox(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	msg := "Subject: hello mbox\n\nFrom the start of a line\nbody line\n"
	if code, out := in.sendmail(msg, "-f", "sender@example.org", "-F", "Some Sender", rcpt); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	waitFor(t, deliveryTimeout, "delivery to mbox", func() bool { return strings.Contains(in.mbox(rcpt), "body line") })
	box := in.mbox(rcpt)
	for _, want := range []string{
		"From sender@example.org ",
		"Return-Path: <sender@example.org>",
		"Delivered-To: " + rcpt + "@example.tst",
		"Received: by mail.example.tst (tern, from userid ",
		"Message-Id: <",
		"Date: ",
		"Subject: hello mbox",
		">From the start of a line",
	} {
		if !strings.Contains(box, want) {
			t.Errorf("mbox lacks %q:\n%s", want, box)
		}
	}
	in.waitLog("status=sent (delivered to mailbox)", deliveryTimeout)
	in.waitLog(": removed", deliveryTimeout)
}

func TestSendmailAddsFromForLocalSubmission(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	if code, out := in.sendmail("Subject: no from\n\nx\n", "-F", "Full Name", rcpt); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox(rcpt), "Subject: no from") })
	submitter := currentUser(t).Username
	if want := "From: Full Name <" + submitter + "@example.tst>"; !strings.Contains(in.mbox(rcpt), want) {
		t.Errorf("mbox lacks %q:\n%s", want, in.mbox(rcpt))
	}
}

func TestMaildirDelivery(t *testing.T) {
	if !isRoot() {
		t.Skip("Maildir delivery into a home directory is tested as root with the test users")
	}
	rcpt := localUser(t)
	home := homeOf(t, rcpt)
	maildir := filepath.Join(home, "Maildir")
	os.RemoveAll(maildir)
	t.Cleanup(func() { os.RemoveAll(maildir) })
	in := newInstance(t, options{main: []string{"home_mailbox = Maildir/"}})
	in.start()
	if code, out := in.sendmail("Subject: to maildir\n\nmaildir body\n", rcpt); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	var file string
	waitFor(t, deliveryTimeout, "a file in Maildir/new", func() bool {
		m, _ := filepath.Glob(filepath.Join(maildir, "new", "*"))
		if len(m) == 1 {
			file = m[0]
		}
		return file != ""
	})
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "maildir body") || !strings.Contains(string(b), "Delivered-To: "+rcpt+"@example.tst") {
		t.Errorf("maildir message:\n%s", b)
	}
	if strings.HasPrefix(string(b), "From ") {
		t.Errorf("maildir message starts with an mbox From_ line")
	}
	assertOwner(t, file, rcpt)
}

func TestMailxCallsSendmail(t *testing.T) {
	mailx, err := exec.LookPath("bsd-mailx")
	if err != nil {
		t.Skip("bsd-mailx not installed")
	}
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	rc := filepath.Join(in.dir, "mailrc")
	in.write("mailrc", "set sendmail="+filepath.Join(binDir, "sendmail")+"\n")
	cmd := in.command("sendmail")
	cmd.Path = mailx
	cmd.Args = []string{mailx, "-s", "via mailx", rcpt}
	cmd.Env = append(cmd.Env, "MAILRC="+rc)
	cmd.Stdin = strings.NewReader("written by mailx\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mailx: %v: %s", err, out)
	}
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox(rcpt), "written by mailx") })
	if !strings.Contains(in.mbox(rcpt), "Subject: via mailx") {
		t.Errorf("mbox:\n%s", in.mbox(rcpt))
	}
}

func TestSendmailExtractRecipientsRemovesBcc(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	in.start()
	msg := fmt.Sprintf("To: %s@example.tst\nBcc: %s\nSubject: dash t\n\nbody\n.\nafter dot\n", rcpt, rcpt)
	if code, out := in.sendmail(msg, "-t", "-i"); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox(rcpt), "after dot") })
	in.waitQueueEmpty() // a second copy would be in by then
	box := in.mbox(rcpt)
	if strings.Contains(box, "Bcc:") {
		t.Errorf("Bcc header kept:\n%s", box)
	}
	if n := len(mboxMessages(box)); n != 1 {
		t.Errorf("%d messages delivered, want 1 (duplicate recipients are merged)", n)
	}
}

func TestMaildropWhileDownDeliveredAfterStart(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	// Not started: sendmail must fall back to maildrop and still exit 0.
	if err := os.MkdirAll(filepath.Join(in.queue, "maildrop"), 0o1733); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(in.queue, "maildrop"), 0o1733)
	if code, out := in.sendmail("Subject: while down\n\ndropped\n", rcpt); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	files, _ := os.ReadDir(filepath.Join(in.queue, "maildrop"))
	if len(files) != 1 {
		t.Fatalf("maildrop holds %d files, want 1", len(files))
	}
	in.start()
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox(rcpt), "dropped") })
	// pickup removes the file once qmgr has the message, which may be
	// after its delivery.
	waitFor(t, deliveryTimeout, "an empty maildrop", func() bool {
		files, _ = os.ReadDir(filepath.Join(in.queue, "maildrop"))
		return len(files) == 0
	})
}

func TestMailqShowsDeferredRecipient(t *testing.T) {
	in := newInstance(t, options{})
	in.start()
	// No smtp agent runs in this instance: remote mail is deferred with
	// "mail transport unavailable", as Postfix reports it.
	if code, out := in.sendmail("Subject: remote\n\nx\n", "someone@remote.example"); code != 0 {
		t.Fatalf("sendmail exit %d: %s", code, out)
	}
	in.waitLog("status=deferred (mail transport unavailable)", deliveryTimeout)
	out := in.waitQueueListing([]string{"(mail transport unavailable)"}, "mailq")
	for _, want := range []string{"-Queue ID-", "someone@remote.example", "(mail transport unavailable)", "Kbytes in 1 Request."} {
		if !strings.Contains(out, want) {
			t.Errorf("mailq lacks %q:\n%s", want, out)
		}
	}
}

func TestMailqEmpty(t *testing.T) {
	in := newInstance(t, options{})
	in.start()
	if out := in.run("mailq"); !strings.Contains(out, "Mail queue is empty") {
		t.Errorf("mailq: %q", out)
	}
}

func TestMailqWhenDown(t *testing.T) {
	in := newInstance(t, options{})
	out, err := in.command("mailq").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "mail system is down") {
		t.Errorf("mailq with the system down: err=%v out=%q", err, out)
	}
}

// TestMyoriginFromMailnameFile: with Debian's "myorigin = /etc/mailname"
// mail from a local user went out from user@/etc/mailname; the domain now
// comes from the file, as in Debian's Postfix.
func TestMyoriginFromMailnameFile(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	mailname := filepath.Join(in.conf, "mailname")
	in.write("etc/mailname", "mailname.tst\n")
	in.appendMain("myorigin = " + mailname)
	in.start()
	// An unqualified recipient would get @mailname.tst too, which is not
	// local here.
	if code, out := in.sendmail("Subject: origin\n\nfrom the mailname domain\n", rcpt+"@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitMbox(rcpt, "from the mailname domain")
	in.waitLog("from=<"+currentUser(t).Username+"@mailname.tst>", deliveryTimeout)
	if box := in.mbox(rcpt); !strings.Contains(box, "From: "+currentUser(t).Username+"@mailname.tst") && !strings.Contains(box, "@mailname.tst>") {
		t.Errorf("the From header does not carry the mailname domain:\n%s", box)
	}
}
