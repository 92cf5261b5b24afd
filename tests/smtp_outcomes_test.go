package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRemote5xxBouncesWithDiagnostic: the remote MX refuses an unknown
// user of its domain with 550 5.1.1 at RCPT; the sender's user gets a
// non-delivery report whose delivery-status part carries the remote
// server's reply and name as Postfix writes them (RFC 3464 2.3.5, 2.3.6).
func TestRemote5xxBouncesWithDiagnostic(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	sender := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: to nobody there\n\nbounce body marker\n", "-f", sender+"@example.tst", "nosuchuser@remote.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, deliveryTimeout, "the bounce in the mailbox of "+sender, func() bool {
		return strings.Contains(p.sender.mbox(sender), "Undelivered Mail Returned to Sender")
	})
	if !strings.Contains(p.receiver.log(), "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nosuchuser@remote.tst>:") {
		t.Errorf("the receiver did not refuse the recipient with 550 5.1.1 at RCPT:\n%s", p.receiver.log())
	}
	// Postfix: "host NAME[ADDR] said: REPLY (in reply to RCPT TO command)",
	// the server named without its port (the port is in relay=).
	bounced := regexp.MustCompile(`tern/smtp-out/smtp\[\d+\]: \w+: to=<nosuchuser@remote\.tst>, relay=mx2\.remote\.tst\[127\.0\.0\.1\]:` + p.port +
		`, .*dsn=5\.1\.1, status=bounced \(host mx2\.remote\.tst\[127\.0\.0\.1\] said: 550 5\.1\.1 <nosuchuser@remote\.tst>: .*\(in reply to RCPT TO command\)\)`)
	if !bounced.MatchString(p.sender.log()) {
		t.Errorf("no status=bounced line in Postfix's form for nosuchuser@remote.tst:\n%s", grepLines(p.sender.log(), "status="))
	}

	out2, err := exec.Command(python, "-c", pyParseDSN, filepath.Join(p.sender.spool, sender)).CombinedOutput()
	if err != nil {
		t.Fatalf("python could not parse the mailbox: %v\n%s", err, out2)
	}
	var got dsnParsed
	if err := json.Unmarshal([]byte(lastLine(string(out2))), &got); err != nil {
		t.Fatalf("parser output %q: %v", out2, err)
	}
	if got.Count != 1 || got.Type != "multipart/report" || got.ReportType != "delivery-status" {
		t.Fatalf("mailbox holds %d messages, the last %s report-type=%s; want one multipart/report delivery-status",
			got.Count, got.Type, got.ReportType)
	}
	var blocks []map[string]string
	for _, part := range got.Parts {
		if part.Type == "message/delivery-status" {
			blocks = part.Blocks
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("delivery-status has %d blocks, want the message's and one recipient's: %v", len(blocks), blocks)
	}
	rcpt := blocks[1]
	t.Logf("recipient block: %v", rcpt)
	for field, want := range map[string]string{
		"Final-Recipient": "rfc822; nosuchuser@remote.tst",
		"Action":          "failed",
		"Status":          "5.1.1",
		"Remote-MTA":      "dns; mx2.remote.tst",
	} {
		if rcpt[field] != want {
			t.Errorf("%s = %q, want %q", field, rcpt[field], want)
		}
	}
	// RFC 3464 2.3.6: for type smtp the diagnostic is the server's reply.
	diag := regexp.MustCompile(`^smtp; 550 5\.1\.1 <nosuchuser@remote\.tst>: \S`)
	if !diag.MatchString(rcpt["Diagnostic-Code"]) {
		t.Errorf("Diagnostic-Code = %q, want the reply itself: \"smtp; 550 5.1.1 <nosuchuser@remote.tst>: ...\"", rcpt["Diagnostic-Code"])
	}
	// Removals follow deliveries by up to 100 ms.
	waitFor(t, deliveryTimeout, "the sender's queue to empty", func() bool {
		return strings.Contains(p.sender.run("mailq"), "Mail queue is empty")
	})
}

// freePort returns a loopback TCP port that was free a moment ago: the
// receiver of TestRemote4xxThenSuccess must keep its port across a
// restart, which port 0 in master.cf would not.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestRemote4xxThenSuccess: the remote server is first down (connection
// refused), then up but answering 450 at RCPT, then accepting. Every
// failure defers the message, which the retries deliver once, without
// any notice to the sender.
func TestRemote4xxThenSuccess(t *testing.T) {
	rcpt := localUser(t)
	port := freePort(t)
	accessDir := t.TempDir()
	if err := os.Chmod(accessDir, 0o755); err != nil {
		t.Fatal(err)
	}
	access := filepath.Join(accessDir, "access")
	writeAccess := func(content string) {
		t.Helper()
		if err := os.WriteFile(access, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeAccess(rcpt + "@remote.tst 450 4.2.1 Mailbox busy, try later\n")
	receiver := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:" + port + " inet n - n - - smtpd\n",
		main: []string{"myhostname = mx.remote.tst", "mydestination = $myhostname, remote.tst",
			"smtpd_error_sleep_time = 0",
			"smtpd_recipient_restrictions = check_recipient_access texthash:" + access},
	})
	sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
		"transport_maps = inline:{ remote.tst=smtp:[127.0.0.1]:"+port+" }")})
	sender.start()
	start := time.Now()

	// 1. Nothing listens: connection refused.
	code, out := sender.sendmail("Subject: patience\n\nretry body marker\n", "-f", rcpt+"@sender.tst", rcpt+"@remote.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	refused := regexp.MustCompile(`tern/\S*smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@remote\.tst>, relay=none, .*dsn=4\.\d+\.\d+, status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:` + port + `: Connection refused\)`)
	waitFor(t, deliveryTimeout, "a deferral for the refused connection", func() bool { return refused.MatchString(sender.log()) })
	t1 := time.Since(start)

	// 2. The server is up but answers 450 at RCPT.
	receiver.start()
	if got := receiver.smtpAddr("127.0.0.1:" + port); got != "127.0.0.1:"+port {
		t.Fatalf("the receiver listens on %s, want 127.0.0.1:%s", got, port)
	}
	said := regexp.MustCompile(`tern/\S*smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@remote\.tst>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + port +
		`, .*dsn=4\.2\.1, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\](:` + port + `)? said: 450 4\.2\.1 <` + regexp.QuoteMeta(rcpt) + `@remote\.tst>: Recipient address rejected: Mailbox busy, try later \(in reply to RCPT TO command\)\)`)
	waitFor(t, deliveryTimeout, "a deferral for the 450 reply", func() bool { return said.MatchString(sender.log()) })
	t2 := time.Since(start)
	if receiver.mbox(rcpt) != "" {
		t.Fatalf("delivered despite the 450")
	}

	// 3. The server restarts on the same port and accepts.
	receiver.stop()
	writeAccess("")
	receiver.start()
	receiver.waitMbox(rcpt, "retry body marker")
	t3 := time.Since(start)
	t.Logf("refused after %v, 450 after %v, delivered after %v", t1.Round(time.Millisecond), t2.Round(time.Millisecond), t3.Round(time.Millisecond))

	sent := regexp.MustCompile(`tern/\S*smtp\[\d+\]: \w+: to=<` + regexp.QuoteMeta(rcpt) + `@remote\.tst>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:` + port + `, .*dsn=2\.0\.0, status=sent \(250 `)
	waitFor(t, deliveryTimeout, "the status=sent line", func() bool { return sent.MatchString(sender.log()) })
	waitFor(t, deliveryTimeout, "an empty queue", func() bool { return strings.Contains(sender.run("mailq"), "Mail queue is empty") })
	if n := len(mboxMessages(receiver.mbox(rcpt))); n != 1 {
		t.Errorf("the recipient got %d copies, want 1", n)
	}
	if strings.Contains(sender.log(), "status=bounced") || sender.mbox(rcpt) != "" {
		t.Errorf("a temporary failure bounced or notified the sender:\n%s", sender.log())
	}
	checkLoggedOnce(t, sender.log(), rcpt+"@remote.tst", "deferred")
}

// TestOneConnectionForManyMessages: a burst of messages to one remote
// domain shares connections (smtp_connection_cache_time_limit, 2s by
// default) instead of opening one per message.
func TestOneConnectionForManyMessages(t *testing.T) {
	const messages = 20
	rcpt := localUser(t)
	p := newRelayPair(t)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan string, messages)
	for i := 0; i < messages; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			code, out := p.sender.sendmail(fmt.Sprintf("Subject: burst %d\n\nburst body %02d\n", i, i), rcpt+"@remote.tst")
			if code != 0 {
				errs <- fmt.Sprintf("sendmail %d: exit %d: %s", i, code, out)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	waitFor(t, 60*time.Second, fmt.Sprintf("%d messages in the mailbox of %s", messages, rcpt), func() bool {
		return len(mboxMessages(p.receiver.mbox(rcpt))) >= messages
	})
	elapsed := time.Since(start)
	mbox := p.receiver.mbox(rcpt)
	for i := 0; i < messages; i++ {
		if !strings.Contains(mbox, fmt.Sprintf("burst body %02d", i)) {
			t.Errorf("message %d is missing", i)
		}
	}
	// smtpd logs client= once qmgr has the message, which may be after
	// its delivery: wait for the last line.
	clientRE := regexp.MustCompile(`tern/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\]`)
	waitFor(t, deliveryTimeout, fmt.Sprintf("%d client= lines at the receiver", messages), func() bool {
		return len(clientRE.FindAllString(p.receiver.log(), -1)) >= messages
	})
	log := p.receiver.log()
	connects := len(regexp.MustCompile(`tern/smtpd\[\d+\]: connect from localhost\[127\.0\.0\.1\]`).FindAllString(log, -1))
	clients := len(clientRE.FindAllString(log, -1))
	t.Logf("%d messages over %d connections (%d client= lines) in %v", messages, connects, clients, elapsed.Round(time.Millisecond))
	if clients != messages {
		t.Errorf("%d client= lines at the receiver, want %d", clients, messages)
	}
	if connects >= messages {
		t.Errorf("%d connections for %d messages: the smtp client did not reuse its connections", connects, messages)
	}
	// A reused connection's deliveries say so, as Postfix's do.
	if !regexp.MustCompile(`tern/\S*smtp\[\d+\]: \w+: to=<[^>]+>, relay=[^,]+, conn_use=[2-9]\d*, delay=`).MatchString(p.sender.log()) {
		t.Error("no delivery logged conn_use=N, though connections were reused")
	}
}

// TestDeliveryStatusFilter: smtp_delivery_status_filter was unknown. A
// pcre-style table turning the remote 550 5.1.1 into 4.1.1 makes the
// smtp agent defer the recipient instead of bouncing it (the admin's
// way through a provider's false blocks), logged with the new code; the
// sender gets no bounce.
func TestDeliveryStatusFilter(t *testing.T) {
	sender := localUser(t)
	filter := filepath.Join(readableTempDir(t), "smtp_dsn_filter")
	writeFile(t, filter, "/^5\\.1\\.1 (.*)$/ 4.1.1 $1\n")
	p := newRelayPair(t, "smtp_delivery_status_filter = regexp:"+filter)
	code, out := p.sender.sendmail("Subject: filtered\n\nfiltered body\n", "-f", sender+"@example.tst", "nosuchuser@remote.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	deferred := regexp.MustCompile(`smtp\[\d+\]: \w+: to=<nosuchuser@remote\.tst>, relay=mx2\.remote\.tst\[127\.0\.0\.1\]:\d+, .*dsn=4\.1\.1, status=deferred \(host mx2\.remote\.tst\[127\.0\.0\.1\] said: 550 5\.1\.1 <nosuchuser@remote\.tst>:`)
	waitFor(t, deliveryTimeout, "the filtered deferral", func() bool { return deferred.MatchString(p.sender.log()) })
	if strings.Contains(p.sender.log(), "status=bounced") || strings.Contains(p.sender.mbox(sender), "Undelivered Mail") {
		t.Errorf("the recipient was bounced despite the filter:\n%s", grepLines(p.sender.log(), "status="))
	}
	// A filter table that can't be opened is an error of tern check, at
	// the agent's master.cf line, not a failure of the agent at start.
	bad := newInstance(t, options{master: testMasterCF + "smtp unix - - n - - smtp\n",
		main: []string{"smtp_delivery_status_filter = regexp:" + filter + ".missing"}})
	msg, err := bad.command("tern", "check").CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 2 || !strings.Contains(string(msg), "smtp_delivery_status_filter: open regexp:"+filter+".missing") {
		t.Errorf("tern check with a missing filter table: %v\n%s", err, msg)
	}
}
