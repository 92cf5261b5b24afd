package tests

import (
	"os"
	"strings"
	"testing"
)

// postscreenMasterCF is Debian's master.cf with postscreen enabled, on a
// free loopback port: postscreen owns the port and hands clients to the
// smtpd pass service, which carries the -o settings.
const postscreenMasterCF = testMasterCF + `127.0.0.1:0 inet n - n - 1 postscreen
smtpd     pass  -       -       n       -       -       smtpd
  -o syslog_name=tern/behind-postscreen
  -o smtpd_helo_required=yes
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
`

// TestPostscreenEntryServedBySmtpd: with postscreen enabled as above,
// port 25 was not served at all ("unsupported command postscreen").
// smtpd now serves the postscreen entry's port with the pass entry's
// settings, and tern check names what is not done: postscreen's tests
// and the postscreen_* settings of main.cf.
func TestPostscreenEntryServedBySmtpd(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{master: postscreenMasterCF, main: []string{
		"postscreen_access_list = permit_mynetworks",
		"postscreen_dnsbl_sites = zen.spamhaus.org*3",
		"postscreen_greet_action = enforce",
	}})
	check := in.run("tern", "check")
	for _, want := range []string{
		"service 127.0.0.1:0: tern has no postscreen; smtpd serves the port itself, with the settings of service smtpd (",
		"main.cf:",
		"postscreen_dnsbl_sites is not supported by tern yet: the setting has no effect",
		"postscreen_greet_action is not supported by tern yet",
		"service dnsblog: command dnsblog is not needed by tern; entry ignored",
		"service tlsproxy: command tlsproxy is not needed by tern; entry ignored",
	} {
		if !strings.Contains(check, want) {
			t.Errorf("tern check lacks %q:\n%s", want, check)
		}
	}
	if strings.Contains(check, "postscreen_access_list") {
		t.Errorf("tern check warns about postscreen_access_list at its default:\n%s", check)
	}
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	// The pass entry's -o smtpd_helo_required applies.
	c := dialSMTP(t, addr)
	c.cmd("MAIL FROM:<a@remote.tst>", "503 5.5.1")
	c.cmd("QUIT", "221")
	out, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", rcpt+"@example.tst",
		"--ehlo", "client.remote.tst", "--header", "Subject: past postscreen", "--body", "served by smtpd")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "served by smtpd")
	in.waitLog("tern/behind-postscreen/smtpd[", deliveryTimeout)
}

// TestDebianStockMasterCFChecks: Debian's stock master.cf (as the
// postfix package installs it) made "tern check" exit 2: its maildrop,
// ifmail, bsmtp and scalemail pipe entries name users most hosts lack,
// which stopped tern from starting; its postlog entry's postlogd was
// "unsupported". Unknown pipe users now defer those services'
// deliveries instead, and postlogd is a helper tern does not need.
func TestDebianStockMasterCFChecks(t *testing.T) {
	const stock = "/usr/share/postfix/master.cf.dist"
	src, err := os.ReadFile(stock)
	if err != nil {
		needPackage(t, "postfix", "Debian's stock master.cf is missing")
	}
	in := newInstance(t, options{master: string(src)})
	out := in.run("tern", "check")
	for _, want := range []string{"service postlog: command postlogd is not needed by tern; entry ignored",
		"service tlsmgr: command tlsmgr is not needed by tern"} {
		if !strings.Contains(out, want) {
			t.Errorf("tern check lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "unsupported") {
		t.Errorf("tern check reports an unsupported entry:\n%s", out)
	}
}
