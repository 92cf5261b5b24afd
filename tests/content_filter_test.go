package tests

import (
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
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
			reply("250 filter.test")
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
			if err := f.send(from, to, body); err != nil {
				reply("451 4.3.0 reinjection failed: " + err.Error())
				continue
			}
			f.mu.Lock()
			f.scanned++
			f.mu.Unlock()
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

// send puts the scanned message back into the MTA.
func (f *scanFilter) send(from string, to []string, body []byte) error {
	msg := "X-Scanned: clean by scan-filter\r\n" + strings.ReplaceAll(string(body), "\n", "\r\n")
	f.mu.Lock()
	addr := f.reinject
	f.mu.Unlock()
	return smtp.SendMail(addr, nil, from, to, []byte(msg))
}

// TestContentFilterSendsMailThroughAFilter: with content_filter on the
// public listener, mail goes to the filter over SMTP; the filter sends it
// back to a listener with "-o content_filter=" (and Postfix's usual
// receive_override_options), from which it is delivered, once, with the
// filter's header.
func TestContentFilterSendsMailThroughAFilter(t *testing.T) {
	rcpt := localUser(t)
	f := startScanFilter(t)
	master := testMasterCF + `scan unix - - n - 2 smtp
127.0.0.1:0 inet n - n - - smtpd
127.0.0.2:0 inet n - n - - smtpd
  -o syslog_name=tern/reinject
  -o content_filter=
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_address_mappings
  -o mynetworks=127.0.0.0/8
  -o smtpd_relay_restrictions=permit_mynetworks,reject
`
	in := newInstance(t, options{master: master, main: []string{
		fmt.Sprintf("content_filter = scan:[127.0.0.1]:%d", f.port()),
		"smtp_tls_security_level = none",
		"smtpd_error_sleep_time = 0",
	}})
	in.start()
	f.sendBackTo(in.smtpAddr("127.0.0.2:0"))
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "someone@remote.tst",
		"--to", rcpt+"@example.tst", "--body", "through the filter")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if code, out := in.sendmail("Subject: local\n\nlocal mail through the filter\n", rcpt); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitMbox(rcpt, "through the filter")
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
