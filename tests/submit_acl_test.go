package tests

import (
	"strings"
	"testing"
)

// TestAuthorizedSubmitUsersSendmail: with authorized_submit_users
// excluding the caller, sendmail fails with EX_NOPERM (77) and says why,
// as Postfix's does, and nothing is delivered.
func TestAuthorizedSubmitUsersSendmail(t *testing.T) {
	me := currentUser(t)
	in := newInstance(t, options{master: testMasterCF, main: []string{"authorized_submit_users = !" + me.Username + ", static:all"}})
	in.start()
	code, out := in.sendmail("Subject: refused\n\nnever\n", localUser(t))
	if code != 77 || !strings.Contains(out, "is not allowed to submit mail") {
		t.Errorf("sendmail: exit %d, %q; want 77 and the reason", code, out)
	}
}

// TestLocalLoginSenderMapsSendmail: with local_login_sender_maps the
// caller may use only the senders its login is given. Another sender
// fails sendmail with EX_NOPERM (77) and the reason; a given one is
// delivered.
func TestLocalLoginSenderMapsSendmail(t *testing.T) {
	me := currentUser(t)
	rcpt := localUser(t)
	in := newInstance(t, options{master: testMasterCF, main: []string{"recipient_delimiter = +",
		"local_login_sender_maps = inline:{ {" + me.Username + " = " + me.Username + "@example.tst, <>} }"}})
	in.start()
	code, out := in.sendmail("Subject: forged\n\nnever\n", "-f", "boss@example.tst", rcpt)
	if code != 77 || !strings.Contains(out, "is not allowed to use sender address <boss@example.tst>") {
		t.Errorf("sendmail -f boss: exit %d, %q; want 77 and the reason", code, out)
	}
	if code, out := in.sendmail("Subject: mine\n\nallowed\n", "-f", me.Username+"+cron@example.tst", rcpt); code != 0 {
		t.Fatalf("sendmail -f own address: exit %d, %q", code, out)
	}
	waitFor(t, deliveryTimeout, "delivery", func() bool { return strings.Contains(in.mbox(rcpt), "Subject: mine") })
	if strings.Contains(in.mbox(rcpt), "forged") {
		t.Error("the forged message was delivered")
	}
	in.waitLog("is not allowed to use sender address", deliveryTimeout)
}
