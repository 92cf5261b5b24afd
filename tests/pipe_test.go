package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPipeToDovecotLDA: the classic master.cf entry that hands mail to
// Dovecot's LDA through pipe(8), with Postfix's flags and macros:
//
//	dovecot unix - n n - - pipe
//	  flags=DRhu user=MAILUSER argv=/usr/lib/dovecot/dovecot-lda -f ${sender} -d ${recipient}
//
// A known user's message lands in its Maildir with the Return-Path and
// Delivered-To that the flags add; Dovecot's "unknown user" exit status
// (EX_NOUSER) bounces the other recipient, with the command output.
func TestPipeToDovecotLDA(t *testing.T) {
	const lda = "/usr/lib/dovecot/dovecot-lda"
	if _, err := os.Stat(lda); err != nil {
		needPackage(t, "dovecot-core", "dovecot-lda is not installed")
	}
	sender := localUser(t)
	mu := mailUser(t)
	uid, _ := strconv.Atoi(mu.Uid)
	gid, _ := strconv.Atoi(mu.Gid)
	dir := dovecotDir(t, "tern-lda-")
	mail := filepath.Join(dir, "mail")
	mustMkdir(t, mail, 0o755)
	if isRoot() {
		if err := os.Chown(mail, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	users := fmt.Sprintf("alice@virt.tst:{PLAIN}unused:%d:%d::%s\n", uid, gid, filepath.Join(mail, "virt.tst", "alice"))
	conf := fmt.Sprintf(`protocols =
ssl = no
mail_location = maildir:%s/%%d/%%n
first_valid_uid = %d
last_valid_uid = 0
passdb {
  driver = passwd-file
  args = username_format=%%u %s/users
}
userdb {
  driver = passwd-file
  args = username_format=%%u %s/users
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
protocol lda {
  log_path = /dev/stderr
}
`, mail, uid, dir, dir)
	runDovecot(t, dir, conf, map[string]string{"users": users}, filepath.Join(dir, "run", "auth-userdb"))
	in := newInstance(t, options{
		master: testMasterCF + fmt.Sprintf("dovecot unix - n n - - pipe\n  flags=DRhu user=%s argv=%s -c %s -f ${sender} -d ${recipient}\n",
			mu.Username, lda, filepath.Join(dir, "dovecot.conf")),
		main: []string{"transport_maps = inline:{ virt.tst=dovecot }", "dovecot_destination_recipient_limit = 1"},
	})
	in.start()
	code, out := in.sendmail("Subject: through the pipe\n\npipe body marker\n",
		"-f", sender+"@example.tst", "Alice@VIRT.tst", "nosuchuser@virt.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	newDir := filepath.Join(mail, "virt.tst", "alice", "new")
	var msg string
	waitFor(t, deliveryTimeout, "the message in alice's Maildir", func() bool {
		entries, _ := os.ReadDir(newDir)
		for _, e := range entries {
			b, _ := os.ReadFile(filepath.Join(newDir, e.Name()))
			if strings.Contains(string(b), "pipe body marker") {
				msg = string(b)
				return true
			}
		}
		return false
	})
	for _, want := range []string{"Return-Path: <" + sender + "@example.tst>", "Delivered-To: Alice@VIRT.tst", "Subject: through the pipe"} {
		if !strings.Contains(msg, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, msg)
		}
	}
	waitFor(t, deliveryTimeout, "the bounce in the mailbox of "+sender, func() bool {
		return strings.Contains(in.mbox(sender), "Undelivered Mail Returned to Sender")
	})
	log := in.log()
	if !strings.Contains(log, "to=<Alice@VIRT.tst>, relay=dovecot") || !strings.Contains(log, "status=sent (delivered via dovecot service)") {
		t.Errorf("no sent line for alice:\n%s", log)
	}
	if !strings.Contains(log, "to=<nosuchuser@virt.tst>, relay=dovecot, ") || !strings.Contains(log, "dsn=5.1.1, status=bounced (user unknown") {
		t.Errorf("no 5.1.1 bounce for the unknown user:\n%s", log)
	}
}
