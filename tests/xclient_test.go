package tests

import (
	"strings"
	"testing"
)

// TestXclientWithSwaks: swaks, speaking for a client through XCLIENT as
// a proxy would, is judged as that client (outside mynetworks: no
// relaying; the Received header names it) where
// smtpd_authorized_xclient_hosts allows it, and refused where it does
// not.
func TestXclientWithSwaks(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n  -o smtpd_authorized_xclient_hosts=127.0.0.0/8\n" +
			"127.0.0.2:0 inet n - n - - smtpd\n",
		main: []string{"smtpd_error_sleep_time = 0"},
	})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	xclient := []string{"--xclient-addr", "192.0.2.9", "--xclient-name", "spike.example", "--xclient-helo", "spike.example"}
	out, err := swaks(t, append([]string{"--server", addr, "--from", "a@remote.tst", "--to", "b@elsewhere.tst"}, xclient...)...)
	if err == nil || !strings.Contains(out, "454 4.7.1 <b@elsewhere.tst>: Relay access denied") {
		t.Errorf("a client outside mynetworks named by XCLIENT relayed: %v\n%s", err, out)
	}
	out, err = swaks(t, append([]string{"--server", addr, "--from", "a@remote.tst", "--to", rcpt + "@example.tst", "--body", "via xclient"}, xclient...)...)
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "via xclient")
	if mbox := in.mbox(rcpt); !strings.Contains(mbox, " (spike.example [192.0.2.9])\n\tby mail.example.tst (tern)") {
		t.Errorf("the Received header does not name the XCLIENT client:\n%s", mbox)
	}
	out, err = swaks(t, append([]string{"--server", in.smtpAddr("127.0.0.2:0"), "--from", "a@remote.tst", "--to", rcpt + "@example.tst"}, xclient...)...)
	if err == nil || !strings.Contains(out, "XCLIENT") {
		t.Errorf("XCLIENT was accepted where it is not authorized: %v\n%s", err, out)
	}
}
