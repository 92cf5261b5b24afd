package tests

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// virtualMasterCF adds the virtual(8) agent; it runs as root (unpriv n)
// to take on the mailbox owner's ids.
const virtualMasterCF = testMasterCF + "virtual unix - n n - - virtual\n127.0.0.1:0 inet n - n - - smtpd\n"

// TestVirtualMailboxDelivery delivers to virtual mailboxes in the
// reference layout, base/domain/user/ as Maildir, owned by the uid that
// virtual_uid_maps gives, and bounces an unknown virtual user.
func TestVirtualMailboxDelivery(t *testing.T) {
	owner := mailUser(t)
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	vhosts := filepath.Join(base, "vhosts")
	mustMkdir(t, vhosts, 0o755)
	if isRoot() {
		chownTo(t, vhosts, owner)
	}
	sender := localUser(t)
	in := newInstance(t, options{master: virtualMasterCF, main: []string{
		"virtual_mailbox_domains = vhost.example",
		"virtual_mailbox_base = " + vhosts,
		"virtual_mailbox_maps = inline:{ {email1@vhost.example=vhost.example/email1/}, {box@vhost.example=vhost.example/box.mbox} }",
		"virtual_uid_maps = static:" + owner.Uid,
		"virtual_gid_maps = static:" + owner.Gid,
		"virtual_minimum_uid = 1",
		"recipient_delimiter = +",
	}})
	in.start()
	if code, out := in.sendmail("Subject: to virtual\n\nvirtual maildir body\n", "-f", sender+"@example.tst",
		"email1+tag@vhost.example", "box@vhost.example", "nosuchuser@vhost.example"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	newDir := filepath.Join(vhosts, "vhost.example", "email1", "new")
	waitFor(t, deliveryTimeout, "the Maildir message", func() bool {
		entries, _ := os.ReadDir(newDir)
		return len(entries) == 1
	})
	entries, _ := os.ReadDir(newDir)
	msg, err := os.ReadFile(filepath.Join(newDir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Delivered-To: email1+tag@vhost.example", "virtual maildir body", "Return-Path: <" + sender + "@example.tst>"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("Maildir message lacks %q:\n%s", want, msg)
		}
	}
	assertOwner(t, filepath.Join(newDir, entries[0].Name()), owner.Username)
	mbox := filepath.Join(vhosts, "vhost.example", "box.mbox")
	waitFor(t, deliveryTimeout, "the mbox message", func() bool {
		b, _ := os.ReadFile(mbox)
		return strings.Contains(string(b), "virtual maildir body")
	})
	waitFor(t, deliveryTimeout, "the bounce for the unknown user", func() bool {
		return strings.Contains(in.mbox(sender), `unknown user: "nosuchuser@vhost.example"`)
	})
	in.waitLog("relay=virtual", deliveryTimeout)

	// Over SMTP: the mailbox table decides at RCPT.
	addr := in.smtpAddr("127.0.0.1:0")
	if out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "email1@vhost.example",
		"--body", "virtual over smtp"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "nosuchuser@vhost.example")
	if err == nil || !strings.Contains(out, "550 5.1.1 <nosuchuser@vhost.example>: Recipient address rejected: User unknown in virtual mailbox table") {
		t.Errorf("an unknown virtual user was not refused at RCPT:\n%s", out)
	}
	waitFor(t, deliveryTimeout, "the SMTP message in the Maildir", func() bool {
		entries, _ := os.ReadDir(newDir)
		return len(entries) == 2
	})
}

func chownTo(t *testing.T, path string, u *user.User) {
	t.Helper()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		t.Fatal(err)
	}
}
