package tests

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
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
// settings and runs postscreen's tests; tern check names only the
// postscreen settings tern does not honour (those of postscreen's own SMTP
// engine, whose part smtpd plays with its own settings).
func TestPostscreenEntryServedBySmtpd(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{master: postscreenMasterCF, main: []string{
		"compatibility_level = 2",
		"postscreen_access_list = permit_mynetworks",
		"postscreen_greet_action = enforce",
		"postscreen_helo_required = yes",
	}})
	check := in.run("tern", "check")
	for _, want := range []string{
		"main.cf:",
		"postscreen_helo_required has no effect in tern: smtpd plays the part of postscreen's SMTP engine, with smtpd_helo_required",
	} {
		if !strings.Contains(check, want) {
			t.Errorf("tern check lacks %q:\n%s", want, check)
		}
	}
	// The plain dnsblog and tlsproxy entries are notes at start, not warnings.
	for _, unwanted := range []string{"postscreen_access_list", "postscreen_greet_action", "no postscreen", "dnsblog", "tlsproxy"} {
		if strings.Contains(check, unwanted) {
			t.Errorf("tern check warns about %s:\n%s", unwanted, check)
		}
	}
	in.start()
	in.waitLog("service dnsblog: command dnsblog is not needed by tern (smtpd makes postscreen's DNS list lookups); no process started", 5*time.Second)
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
	in.waitLog("tern/behind-postscreen/postscreen[", deliveryTimeout)
	// At compatibility_level 2, respectful_logging is no, and the old
	// word is logged, as Postfix does; master says so at start.
	if !strings.Contains(in.log(), "WHITELISTED [127.0.0.1]:") {
		t.Errorf("a client in mynetworks was not allowlisted:\n%s", in.log())
	}
	if !strings.Contains(in.log(), "tern/master[") || !strings.Contains(in.log(), "using backwards-compatible default setting respectful_logging=no (compatibility_level = 2;") {
		t.Errorf("master did not log the backwards-compatible default:\n%s", in.log())
	}
}

// TestPostscreenTests drives postscreen's tests end to end, each from
// its own loopback address: an allowlisted client, a DNS-listed one
// (the list served by an in-process DNS server), a denylisted one, one
// that talks before its turn, and a clean one that passes once and is
// then remembered.
func TestPostscreenTests(t *testing.T) {
	rcpt := localUser(t)
	dns := mxtest.NewServer(t, `
2.0.0.127.zen.bl.tst.   A   127.0.0.2
4.0.0.127.wl.bl.tst.    A   127.0.9.1
`)
	access := filepath.Join(readableTempDir(t), "postscreen_access.cidr")
	writeFile(t, access, "127.0.0.5/32 reject\n127.0.0.6/32 permit\n")
	in := newInstance(t, options{master: postscreenMasterCF, main: []string{
		"tern_dns_servers = " + dns.Addr(),
		"mynetworks = 127.0.0.1/32",
		"postscreen_access_list = permit_mynetworks, cidr:" + access,
		"postscreen_denylist_action = drop",
		"postscreen_dnsbl_sites = zen.bl.tst=127.0.0.[2..11]*3 wl.bl.tst*-2",
		"postscreen_dnsbl_threshold = 3",
		"postscreen_dnsbl_action = drop",
		"postscreen_greet_action = enforce",
		"postscreen_greet_wait = 1s",
	}})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	from := func(local string) []string {
		return []string{"--server", addr, "--local-interface", local, "--from", "sender@remote.tst",
			"--to", rcpt + "@example.tst", "--ehlo", "client.remote.tst"}
	}

	// DNS-listed: 521 at once, with the list named.
	out, err := swaks(t, from("127.0.0.2")...)
	if err == nil || !strings.Contains(out, "<** 521 5.7.1 Service unavailable; client [127.0.0.2] blocked using zen.bl.tst") {
		t.Errorf("listed client: %v\n%s", err, out)
	}
	// Denylisted by the cidr table.
	out, err = swaks(t, from("127.0.0.5")...)
	if err == nil || !strings.Contains(out, "<** 521 5.3.2 Service currently unavailable") {
		t.Errorf("denylisted client: %v\n%s", err, out)
	}
	// Talks before its turn: greeted, but every recipient is refused.
	c := dialTalker(t, addr, "127.0.0.3")
	c.cmd("EHLO talker.remote.tst", "250")
	c.cmd("MAIL FROM:<a@remote.tst>", "250")
	c.cmd("RCPT TO:<"+rcpt+"@example.tst>", "550 5.5.1 Protocol error")
	c.cmd("QUIT", "221")
	// Clean, with an allowlist weight below the threshold: tested once
	// (Python's smtplib waits out the greeting test), then remembered.
	for i, body := range []string{"first from a clean client", "second from a clean client"} {
		out, err := pythonSMTP(t, pyPlainSend, addr, "127.0.0.4", rcpt+"@example.tst", body)
		if err != nil || !strings.Contains(out, "greeting: 220 ") {
			t.Fatalf("clean client, message %d: %v\n%s", i+1, err, out)
		}
		in.waitMbox(rcpt, body)
	}
	log := in.log()
	for _, re := range []string{
		`tern/behind-postscreen/postscreen\[\d+\]: CONNECT from \[127\.0\.0\.2\]:\d+ to \[127\.0\.0\.1\]:\d+`,
		`postscreen\[\d+\]: DNSBL rank 3 for \[127\.0\.0\.2\]:\d+`,
		`postscreen\[\d+\]: DISCONNECT \[127\.0\.0\.2\]:\d+`,
		`postscreen\[\d+\]: DENYLISTED \[127\.0\.0\.5\]:\d+`,
		`postscreen\[\d+\]: PREGREET 24 after \d+\.\d\d from \[127\.0\.0\.3\]:\d+: EHLO talker\.remote\.tst\\r\\n`,
		`smtpd\[\d+\]: NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.3\]: 550 5\.5\.1 Protocol error; from=<a@remote\.tst> to=<` + rcpt + `@example\.tst> proto=ESMTP helo=<talker\.remote\.tst>`,
		`postscreen\[\d+\]: PASS NEW \[127\.0\.0\.4\]:\d+`,
		`postscreen\[\d+\]: PASS OLD \[127\.0\.0\.4\]:\d+`,
	} {
		if !regexp.MustCompile(re).MatchString(log) {
			t.Errorf("log lacks %s:\n%s", re, log)
		}
	}
	if m := in.mbox(rcpt); strings.Contains(m, "127.0.0.2") || strings.Contains(m, "127.0.0.5") {
		t.Errorf("mail from a dropped client was delivered:\n%s", m)
	}
	checkRememberedAfterReload(t, in, addr, rcpt)
}

// checkRememberedAfterReload: a reload restarts smtpd; the clean client
// 127.0.0.4, which passed before, is let through by the new process at
// once (PASS OLD), through postscreen_cache_map's file.
func checkRememberedAfterReload(t *testing.T, in *instance, addr, rcpt string) {
	t.Helper()
	passed := regexp.MustCompile(`postscreen\[(\d+)\]: PASS (NEW|OLD) \[127\.0\.0\.4\]`)
	before := passed.FindStringSubmatch(in.log())
	if before == nil {
		t.Fatal("no pass for 127.0.0.4 before the reload")
	}
	in.run("tern", "reload")
	waitFor(t, 20*time.Second, "a restarted smtpd to serve 127.0.0.4", func() bool {
		if out, err := pythonSMTP(t, pyPlainSend, addr, "127.0.0.4", rcpt+"@example.tst", "after the reload"); err != nil {
			t.Logf("send after the reload: %v\n%s", err, out)
			return false
		}
		for _, m := range passed.FindAllStringSubmatch(in.log(), -1) {
			if m[1] != before[1] {
				if m[2] == "NEW" {
					t.Fatalf("the restarted smtpd tested 127.0.0.4 again:\n%s", in.log())
				}
				return true
			}
		}
		return false
	})
}

// dialTalker connects from local and says EHLO before its turn: it reads
// the greeting only after the command has gone.
func dialTalker(t *testing.T, addr, local string) *smtpConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	t.Cleanup(func() { conn.Close() })
	c := &smtpConn{t: t, c: conn, br: bufio.NewReader(conn)}
	if _, err := conn.Write([]byte("EHLO talker.remote.tst\r\n")); err != nil {
		t.Fatal(err)
	}
	c.expect("220-") // the teaser, then smtpd's greeting
	c.expect("250")  // the early EHLO's reply
	return c
}

// pyPlainSend sends one message with Python's smtplib from a given local
// address and prints the greeting it got.
const pyPlainSend = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
s = smtplib.SMTP(timeout=20, source_address=(sys.argv[2], 0))
code, msg = s.connect(host, int(port))
print("greeting:", code, msg.decode().replace("\n", " | "))
s.sendmail("sender@remote.tst", [sys.argv[3]], "Subject: clean\r\n\r\n" + sys.argv[4] + "\r\n")
s.quit()
`

// TestDebianStockMasterCFChecks: Debian's stock master.cf (as the
// postfix package installs it) made "tern check" exit 2: its maildrop,
// ifmail, bsmtp and scalemail pipe entries name users most hosts lack,
// which stopped tern from starting; its postlog entry's postlogd was
// "unsupported". Unknown pipe users now defer those services'
// deliveries instead, and postlogd is a helper tern does not need. Its
// seven helper entries then each drew a warning at every start; they are
// now notes in the log, and tern check prints nothing.
func TestDebianStockMasterCFChecks(t *testing.T) {
	const stock = "/usr/share/postfix/master.cf.dist"
	src, err := os.ReadFile(stock)
	if err != nil {
		needPackage(t, "postfix", "Debian's stock master.cf is missing")
	}
	in := newInstance(t, options{master: string(src)})
	out := in.run("tern", "check")
	// Nothing to warn about: the helpers tern does not need are notes
	// that master logs at start.
	if strings.TrimSpace(out) != "" {
		t.Errorf("tern check warns about the stock master.cf:\n%s", out)
	}
}

// pyTrySend sends one message with Python's smtplib from a given local
// address and prints "sent" or the refusal's code and text.
const pyTrySend = `
import smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
s = smtplib.SMTP(timeout=20, source_address=(sys.argv[2], 0))
s.connect(host, int(port))
try:
    s.sendmail("sender@remote.tst", [sys.argv[3]], "Subject: deep\r\n\r\n" + sys.argv[4] + "\r\n")
    print("sent")
except smtplib.SMTPRecipientsRefused as e:
    code, text = list(e.recipients.values())[0]
    print("refused", code, text.decode())
s.quit()
`

// TestPostscreenDeepTests: with postscreen's tests after the greeting
// enabled (they were warned about as not supported), a new client gets
// 450 4.3.2 at RCPT, as from Postfix's postscreen, and its retry is
// delivered; the pass outlives a reload (postscreen_cache_map). A client
// that sends an HTTP request is dropped with 521 and does not pass.
func TestPostscreenDeepTests(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{master: postscreenMasterCF, main: []string{
		"mynetworks = 127.0.0.1/32", // permit_mynetworks would let the clients through
		"postscreen_greet_banner =",
		"postscreen_pipelining_enable = yes",
		"postscreen_non_smtp_command_enable = yes",
		"postscreen_bare_newline_enable = yes",
	}})
	if out := in.run("tern", "check"); strings.Contains(out, "postscreen_") {
		t.Errorf("tern check warns about the deep tests:\n%s", out)
	}
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := pythonSMTP(t, pyTrySend, addr, "127.0.0.4", rcpt+"@example.tst", "first try")
	if err != nil || !strings.Contains(out, "refused 450 4.3.2 Service currently unavailable") {
		t.Fatalf("first try: %v\n%s", err, out)
	}
	// The pass is remembered as the session ends, after the client has
	// its reply to QUIT.
	in.waitLogMatch(regexp.MustCompile(`postscreen\[\d+\]: PASS NEW \[127\.0\.0\.4\]`), deliveryTimeout)
	out, err = pythonSMTP(t, pyTrySend, addr, "127.0.0.4", rcpt+"@example.tst", "second try")
	if err != nil || !strings.Contains(out, "sent") {
		t.Fatalf("second try: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "second try")

	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.7")}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &smtpConn{t: t, c: conn, br: bufio.NewReader(conn)}
	c.expect("220 ")
	c.cmd("GET / HTTP/1.0", "521 5.5.1 Protocol error")
	in.waitLog("NON-SMTP COMMAND from [127.0.0.7]:", 5*time.Second)
	for _, re := range []string{
		`postscreen\[\d+\]: PASS NEW \[127\.0\.0\.4\]:\d+`,
		`postscreen\[\d+\]: PASS OLD \[127\.0\.0\.4\]:\d+`,
		`NOQUEUE: reject: RCPT from \S+\[127\.0\.0\.4\]: 450 4\.3\.2 Service currently unavailable`,
	} {
		if !regexp.MustCompile(re).MatchString(in.log()) {
			t.Errorf("log lacks %s:\n%s", re, in.log())
		}
	}
	conn.Close() // a pass would be logged as the session ends
	checkRememberedAfterReload(t, in, addr, rcpt)
	if strings.Contains(in.log(), "PASS NEW [127.0.0.7]") {
		t.Errorf("the client that failed passed:\n%s", in.log())
	}
}
