package tests

import (
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// senderMasterCF is the sending suite: the core services and the smtp
// client.
const senderMasterCF = testMasterCF + "smtp unix - - n - - smtp\n"

// senderMain are main.cf lines of a sending suite for which example.tst is
// not local: mail to it goes out with smtp.
var senderMain = []string{
	"myhostname = sender.tst",
	"mydomain = sender.tst",
	"myorigin = sender.tst",
	"mydestination = localhost, sender.tst",
	"inet_protocols = ipv4",
	"smtp_connect_timeout = 5s",
}

// TestRelayhostWithAuthOverSTARTTLS: all mail goes to a relayhost whose
// submission service requires STARTTLS and AUTH; the client encrypts,
// logs in with the password map's entry for [host]:port and the mail
// arrives. With smtpd_tls_loglevel and smtp_tls_loglevel 1 (which had no
// effect) both sides log the TLS session as Postfix does.
func TestRelayhostWithAuthOverSTARTTLS(t *testing.T) {
	rcpt := localUser(t)
	receiver, _ := smtpdInstance(t, "smtpd_tls_loglevel = 1")
	relay := "[" + hostOf(t, receiver.smtpAddr("127.0.0.2:0")) + "]:" + portOf(t, receiver.smtpAddr("127.0.0.2:0"))
	sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
		"relayhost = "+relay,
		"smtp_sasl_auth_enable = yes",
		"smtp_sasl_password_maps = inline:{ "+relay+"=alice:wonderland }",
		"smtp_tls_security_level = encrypt",
		"smtp_tls_loglevel = 1",
	)})
	sender.start()
	start := time.Now()
	code, out := sender.sendmail("Subject: via relayhost\n\nrelayhost body marker\n", "-f", rcpt+"@sender.tst", rcpt+"@example.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	receiver.waitMbox(rcpt, "relayhost body marker")
	t.Logf("delivered through the relayhost in %v", time.Since(start).Round(time.Millisecond))

	sent := regexp.MustCompile(`tern/smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@example\.tst>, relay=127\.0\.0\.2\[127\.0\.0\.2\]:` +
		regexp.QuoteMeta(portOf(t, receiver.smtpAddr("127.0.0.2:0"))) + `, .*dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as \w+\)`)
	waitFor(t, deliveryTimeout, "the sender's status=sent line", func() bool { return sent.MatchString(sender.log()) })
	auth := regexp.MustCompile(`tern/submission/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\], sasl_method=(PLAIN|LOGIN), sasl_username=alice`)
	receiver.waitLogMatch(auth, deliveryTimeout)
	tlsRE := map[*instance]*regexp.Regexp{
		receiver: regexp.MustCompile(`tern/submission/smtpd\[\d+\]: Anonymous TLS connection established from localhost\[127\.0\.0\.1\]: TLSv1\.[23] with cipher TLS_\w+ \((128|256)/(128|256) bits\)`),
		sender:   regexp.MustCompile(`tern/smtp\[\d+\]: Untrusted TLS connection established to 127\.0\.0\.2\[127\.0\.0\.2\]:\d+: TLSv1\.[23] with cipher TLS_\w+ \(`),
	}
	for in, re := range tlsRE {
		if !re.MatchString(in.log()) {
			t.Errorf("no TLS log line like %s:\n%s", re, in.log())
		}
	}
	mbox := receiver.mbox(rcpt)
	if !regexp.MustCompile(`Received: from sender\.tst \(localhost \[127\.0\.0\.1\]\)\s+by mail\.example\.tst \(tern\) with ESMTPSA id `).MatchString(mbox) {
		t.Errorf("no ESMTPSA Received header from sender.tst:\n%s", mbox)
	}
	if strings.Contains(sender.log(), "status=deferred") || strings.Contains(sender.log(), "status=bounced") {
		t.Errorf("the sender deferred or bounced something:\n%s", sender.log())
	}
}

// TestRelayhostEncryptWithoutSTARTTLSDefers: with
// smtp_tls_security_level = encrypt, a relayhost that does not offer
// STARTTLS gets no mail: it is deferred and stays queued, never bounced.
func TestRelayhostEncryptWithoutSTARTTLSDefers(t *testing.T) {
	rcpt := localUser(t)
	receiver := newInstance(t, options{master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main: []string{"smtpd_error_sleep_time = 0"}})
	receiver.start()
	addr := receiver.smtpAddr("127.0.0.1:0")
	relay := "[127.0.0.1]:" + portOf(t, addr)
	sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
		"relayhost = "+relay,
		"smtp_tls_security_level = encrypt",
	)})
	sender.start()
	code, out := sender.sendmail("Subject: must be encrypted\n\nsecret body marker\n", "-f", rcpt+"@sender.tst", rcpt+"@example.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	deferred := regexp.MustCompile(`tern/smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@example\.tst>, relay=[^,]*, .*dsn=4\.\d+\.\d+, status=deferred \(.*TLS is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]`)
	// Two attempts (backoff 1s..2s in the harness): a retry does not
	// change its mind either.
	waitFor(t, deliveryTimeout, "two deferrals for want of TLS", func() bool {
		return len(deferred.FindAllString(sender.log(), -1)) >= 2
	})
	if strings.Contains(sender.log(), "status=bounced") || strings.Contains(sender.log(), "status=sent") {
		t.Errorf("the message was bounced or sent:\n%s", sender.log())
	}
	// As Postfix's smtp_bulk_fail: a failure inside a session names the
	// server as relay (relay=none is for failures before any connection).
	wantRelay := regexp.MustCompile(`tern/smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@example\.tst>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + portOf(t, addr) + `, `)
	if !wantRelay.MatchString(sender.log()) {
		t.Errorf("the deferral does not name the server as relay=127.0.0.1[127.0.0.1]:%s:\n%s", portOf(t, addr), grepLines(sender.log(), "status=deferred"))
	}
	// Each attempt is logged once, by the delivery agent, as Postfix does.
	checkLoggedOnce(t, sender.log(), rcpt+"@example.tst", "deferred")
	if q := sender.run("mailq"); !strings.Contains(q, rcpt+"@example.tst") || !strings.Contains(q, "TLS is required") {
		t.Errorf("mailq does not show the deferred recipient with its reason:\n%s", q)
	}
	if m := receiver.mbox(rcpt); strings.Contains(m, "secret body marker") {
		t.Errorf("the message went out in plain text")
	}
	if m := sender.mbox(rcpt); m != "" {
		t.Errorf("the sender got a notice:\n%s", m)
	}
	// The client hung up after EHLO: no MAIL command reached the server.
	if strings.Contains(receiver.log(), "client=") {
		t.Errorf("the receiver saw a transaction:\n%s", receiver.log())
	}
}

func hostOf(t *testing.T, addr string) string {
	t.Helper()
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// grepLines returns the lines of log that contain s.
func grepLines(log, s string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// checkLoggedOnce checks that every delivery attempt with the given
// status for addr is logged once, by the delivery agent (tern/smtp or a
// syslog_name of it), and not a second time by qmgr: a log analyser such
// as pflogsumm would count it twice.
func checkLoggedOnce(t *testing.T, log, addr, status string) {
	t.Helper()
	all := regexp.MustCompile(`\]: \w+: to=<` + regexp.QuoteMeta(addr) + `>, .*status=` + status + ` `)
	byQmgr := regexp.MustCompile(`tern/qmgr\[\d+\]: \w+: to=<` + regexp.QuoteMeta(addr) + `>, .*status=` + status + ` `)
	if n := len(byQmgr.FindAllString(log, -1)); n > 0 {
		t.Errorf("qmgr logged %d of the %d status=%s lines for %s again after the smtp agent:\n%s",
			n, len(all.FindAllString(log, -1)), status, addr, grepLines(log, "status="+status))
	}
}

// TestWrapperModeRelayhost: with smtp_tls_wrappermode = yes the smtp
// client speaks TLS from the first byte, as to a port-465 relayhost; here
// the relayhost is another tern's smtps service.
func TestWrapperModeRelayhost(t *testing.T) {
	rcpt := localUser(t)
	receiver, _ := smtpdInstance(t)
	smtps := receiver.smtpAddr("127.0.0.3:0")
	sender := newInstance(t, options{
		master: senderMasterCF,
		main: []string{
			"relayhost = [127.0.0.3]:" + smtps[strings.LastIndexByte(smtps, ':')+1:],
			"smtp_tls_wrappermode = yes",
			"smtp_tls_security_level = encrypt",
			"mydestination = localhost",
		},
	})
	sender.start()
	if code, out := sender.sendmail("Subject: implicit TLS\n\nwrapper mode body\n", rcpt+"@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	receiver.waitMbox(rcpt, "wrapper mode body")
	receiver.waitLogMatch(regexp.MustCompile(`tern/smtps/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\]`), deliveryTimeout)
	sender.waitLog("relay=127.0.0.3[127.0.0.3]:", deliveryTimeout)
}

// TestTLSConnectionReuse: smtp_tls_connection_reuse was unknown, and tern
// reused encrypted connections whatever the setting. With yes (tern's
// default) three messages in a row to a STARTTLS relayhost share one
// connection; with no, as Postfix's default, each gets its own.
func TestTLSConnectionReuse(t *testing.T) {
	for _, tt := range []struct {
		reuse    string
		connects int
	}{{"yes", 1}, {"no", 3}} {
		t.Run(tt.reuse, func(t *testing.T) {
			rcpt := localUser(t)
			receiver, _ := smtpdInstance(t)
			addr := receiver.smtpAddr("127.0.0.1:0")
			sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
				"relayhost = ["+hostOf(t, addr)+"]:"+portOf(t, addr),
				"smtp_tls_security_level = encrypt",
				"smtp_connection_cache_time_limit = 30s",
				"smtp_tls_connection_reuse = "+tt.reuse,
			)})
			sender.start()
			for i := 1; i <= 3; i++ {
				body := fmt.Sprintf("reuse body %d", i)
				if code, out := sender.sendmail("Subject: reuse\n\n"+body+"\n", rcpt+"@example.tst"); code != 0 {
					t.Fatalf("sendmail: %d %s", code, out)
				}
				receiver.waitMbox(rcpt, body)
			}
			connects := len(regexp.MustCompile(`tern/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]`).FindAllString(receiver.log(), -1))
			// The sender logs a delivery after the receiver's 250, by which
			// time the receiver may have delivered the message.
			sent := regexp.MustCompile(`tern/smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@example\.tst>, relay=`)
			waitFor(t, deliveryTimeout, "three delivery lines", func() bool { return len(sent.FindAllString(sender.log(), -1)) >= 3 })
			tlsSessions := len(sent.FindAllString(sender.log(), -1))
			if connects != tt.connects || tlsSessions != 3 {
				t.Errorf("%d connections for %d deliveries, want %d for 3", connects, tlsSessions, tt.connects)
			}
		})
	}
}
