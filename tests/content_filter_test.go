package tests

import (
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// scanFilter is a stand-in for amavisd: an SMTP server that takes each
// message, adds an X-Scanned header and sends it back to the MTA's
// reinjection listener, answering the MTA only once that is done, as
// amavisd-new does in its default (after-queue, SMTP) set-up.
type scanFilter struct {
	ln       net.Listener
	mu       sync.Mutex
	reinject string // where to send messages back
	scanned  int
	wg       sync.WaitGroup
	// offerXforward makes the filter offer XFORWARD, as amavisd-new
	// does, and pass the attributes it gets on when it sends mail back.
	offerXforward bool
	xforward      []string // the XFORWARD lines of the message in hand
	xforwardSeen  []string // every XFORWARD line received
}

func startScanFilter(t *testing.T) *scanFilter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &scanFilter{ln: ln}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(30 * time.Second))
				f.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		f.wg.Wait()
	})
	return f
}

func (f *scanFilter) port() int { return f.ln.Addr().(*net.TCPAddr).Port }

// sendBackTo sets the MTA's reinjection address.
func (f *scanFilter) sendBackTo(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reinject = addr
}

// serve speaks just enough SMTP for tern's smtp client.
func (f *scanFilter) serve(c net.Conn) {
	tp := textproto.NewConn(c)
	reply := func(s string) { _ = tp.PrintfLine("%s", s) }
	reply("220 filter.test ESMTP scan-filter")
	var from string
	var to []string
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.Fields(line + " x")[0])
		switch cmd {
		case "EHLO", "HELO":
			f.mu.Lock()
			offer := f.offerXforward
			f.mu.Unlock()
			if offer {
				reply("250-filter.test")
				reply("250 XFORWARD NAME ADDR PROTO HELO SOURCE IDENT")
			} else {
				reply("250 filter.test")
			}
		case "XFORWARD":
			f.mu.Lock()
			f.xforward = append(f.xforward, line)
			f.xforwardSeen = append(f.xforwardSeen, line)
			f.mu.Unlock()
			reply("250 2.0.0 Ok")
		case "MAIL":
			from, to = addrArg(line), nil
			reply("250 2.1.0 Ok")
		case "RCPT":
			to = append(to, addrArg(line))
			reply("250 2.1.5 Ok")
		case "DATA":
			reply("354 go ahead")
			body, err := io.ReadAll(tp.DotReader())
			if err != nil {
				return
			}
			// Counted before the message goes back: once it is back it
			// may be delivered, and the test read the count, before
			// send returns.
			f.mu.Lock()
			f.scanned++
			f.mu.Unlock()
			if err := f.send(from, to, body); err != nil {
				f.mu.Lock()
				f.scanned--
				f.mu.Unlock()
				reply("451 4.3.0 reinjection failed: " + err.Error())
				continue
			}
			reply("250 2.0.0 Ok: scanned and passed on")
		case "QUIT":
			reply("221 2.0.0 Bye")
			return
		default:
			reply("250 2.0.0 Ok")
		}
	}
}

// addrArg takes the address out of MAIL FROM:<a> or RCPT TO:<a> params.
func addrArg(line string) string {
	i, j := strings.IndexByte(line, '<'), strings.IndexByte(line, '>')
	if i < 0 || j < i {
		return ""
	}
	return line[i+1 : j]
}

// send puts the scanned message back into the MTA, after the XFORWARD
// lines it came with, if any.
func (f *scanFilter) send(from string, to []string, body []byte) error {
	msg := "X-Scanned: clean by scan-filter\r\n" + strings.ReplaceAll(string(body), "\n", "\r\n")
	f.mu.Lock()
	addr, xf := f.reinject, f.xforward
	f.xforward = nil
	f.mu.Unlock()
	if len(xf) == 0 {
		return smtp.SendMail(addr, nil, from, to, []byte(msg))
	}
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("filter.test"); err != nil {
		return err
	}
	for _, line := range xf {
		id, err := c.Text.Cmd("%s", line)
		if err != nil {
			return err
		}
		c.Text.StartResponse(id)
		_, _, err = c.Text.ReadResponse(250)
		c.Text.EndResponse(id)
		if err != nil {
			return fmt.Errorf("%s: %w", line, err)
		}
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// startFilteredInstance starts a tern whose content_filter is f, over
// the scan transport (with the -o lines of scanOpts), with mail coming
// back on 127.0.0.2 to a reinjection smtpd set up as Postfix's
// FILTER_README has it (and reinjectOpts).
func startFilteredInstance(t *testing.T, f *scanFilter, scanOpts, reinjectOpts string) *instance {
	t.Helper()
	master := testMasterCF + "scan unix - - n - 2 smtp\n" + scanOpts +
		"127.0.0.1:0 inet n - n - - smtpd\n" +
		"127.0.0.2:0 inet n - n - - smtpd\n" +
		"  -o syslog_name=tern/reinject\n  -o content_filter=\n" +
		"  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_address_mappings\n" +
		"  -o mynetworks=127.0.0.0/8\n  -o smtpd_relay_restrictions=permit_mynetworks,reject\n" + reinjectOpts
	in := newInstance(t, options{master: master, main: []string{
		fmt.Sprintf("content_filter = scan:[127.0.0.1]:%d", f.port()),
		"smtp_tls_security_level = none",
		"smtpd_error_sleep_time = 0",
	}})
	in.start()
	f.sendBackTo(in.smtpAddr("127.0.0.2:0"))
	return in
}

// TestContentFilterSendsMailThroughAFilter: with content_filter on the
// public listener, mail goes to the filter over SMTP; the filter sends it
// back to a listener with "-o content_filter=" (and Postfix's usual
// receive_override_options), from which it is delivered, once, with the
// filter's header.
func TestContentFilterSendsMailThroughAFilter(t *testing.T) {
	rcpt := localUser(t)
	f := startScanFilter(t)
	in := startFilteredInstance(t, f, "", "")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "someone@remote.tst",
		"--to", rcpt+"@example.tst", "--body", "remote mail through the filter")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if code, out := in.sendmail("Subject: local\n\nlocal mail through the filter\n", rcpt); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	// Neither text may be a part of the other: each wait is for its own
	// message (TestContentFilterSendsMailThroughAFilter once counted
	// the mailbox after the local message alone had matched both).
	in.waitMbox(rcpt, "remote mail through the filter")
	in.waitMbox(rcpt, "local mail through the filter")
	msgs := mboxMessages(in.mbox(rcpt))
	if len(msgs) != 2 {
		t.Fatalf("%d messages delivered, want 2:\n%s", len(msgs), in.mbox(rcpt))
	}
	for _, m := range msgs {
		if !strings.Contains(m, "X-Scanned: clean by scan-filter") {
			t.Errorf("a message went around the filter:\n%s", m)
		}
	}
	log := in.log()
	if !strings.Contains(log, fmt.Sprintf("relay=127.0.0.1[127.0.0.1]:%d", f.port())) || !strings.Contains(log, "tern/reinject/smtpd") {
		t.Errorf("no hand-off to the filter and back in the log:\n%s", log)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.scanned != 2 {
		t.Errorf("the filter scanned %d messages, want 2 (none twice)", f.scanned)
	}
}

// TestContentFilterXforward: smtp_send_xforward_command and
// smtpd_authorized_xforward_hosts, set by the usual amavis master.cf
// entries, had no effect, so mail back from the filter was logged and
// stamped as coming from the filter. tern's smtp client now tells a
// filter that offers XFORWARD who the original client was (and the
// queue id); the filter passes that on, and the reinjection smtpd logs
// orig_client= and writes the original client into its Received header.
func TestContentFilterXforward(t *testing.T) {
	rcpt := localUser(t)
	f := startScanFilter(t)
	f.offerXforward = true
	in := startFilteredInstance(t, f, "  -o smtp_send_xforward_command=yes\n", "  -o smtpd_authorized_xforward_hosts=127.0.0.0/8\n")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--helo", "original.client.tst",
		"--from", "someone@remote.tst", "--to", rcpt+"@example.tst", "--body", "xforward through the filter")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "xforward through the filter")
	f.mu.Lock()
	seen := strings.Join(f.xforwardSeen, "\n")
	f.mu.Unlock()
	firstRE := regexp.MustCompile(`(?m)tern/smtpd\[\d+\]: (\w+): client=\S+\[127\.0\.0\.1\]$`)
	in.waitLogMatch(firstRE, deliveryTimeout)
	first := firstRE.FindStringSubmatch(in.log())
	for _, want := range []string{"ADDR=127.0.0.1", "HELO=original.client.tst", "PROTO=ESMTP", "SOURCE=REMOTE", "IDENT=" + first[1]} {
		if !strings.Contains(seen, want) {
			t.Errorf("the filter got no %s:\n%s", want, seen)
		}
	}
	in.waitLogMatch(regexp.MustCompile(`tern/reinject/smtpd\[\d+\]: \w+: client=\S+\[127\.0\.0\.1\], orig_queue_id=`+first[1]+
		`, orig_client=\S+\[127\.0\.0\.1\]`), deliveryTimeout)
	msg := in.mbox(rcpt)
	received := regexp.MustCompile(`(?m)^Received: from original\.client\.tst \(\S+ \[127\.0\.0\.1\]\)\n\tby `)
	if n := len(received.FindAllString(msg, -1)); n != 2 {
		t.Errorf("%d Received headers name the original client, want 2 (before and after the filter):\n%s", n, msg)
	}
}
