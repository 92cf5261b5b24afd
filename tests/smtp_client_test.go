package tests

import (
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// relayPair is a sending tern whose smtp client finds MX records in an
// in-process DNS server, and a receiving tern that is the MX of
// remote.tst on 127.0.0.1 (its smtpd bound to port 0, which both use).
type relayPair struct {
	sender, receiver *instance
	dns              *mxtest.Server
	port             string
}

// senderInterface is the inet_interfaces of a sending instance whose MX
// hosts are on 127.0.0.1: an address of the loopback network that no
// test server listens on, so that the sender is another host.
const senderInterface = "127.0.0.254"

func newRelayPair(t *testing.T, senderMain ...string) *relayPair {
	t.Helper()
	receiver := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main: []string{"myhostname = mx.remote.tst", "mydestination = $myhostname, remote.tst, bücher.tst",
			"smtpd_error_sleep_time = 0"},
	})
	receiver.start()
	_, port, err := net.SplitHostPort(receiver.smtpAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	// mx1 has the lower preference value but nothing listens there: the
	// client must fall back to mx2.
	dns := mxtest.NewServer(t, `
remote.tst.      MX 10 mx1.remote.tst.
remote.tst.      MX 20 mx2.remote.tst.
mx1.remote.tst.  A 127.0.0.2
mx2.remote.tst.  A 127.0.0.1
nullmx.tst.      MX 0 .
broken.tst.      MX 10 mx2.remote.tst.
xn--bcher-kva.tst. MX 10 mx2.remote.tst.
`)
	dns.SetBehavior("broken.tst", mxtest.ServFail)
	main := append([]string{
		"tern_dns_servers = " + dns.Addr(),
		// The sender is another host than the MX: with the MX's address
		// among its own, its smtp would see a mail loop.
		"inet_interfaces = " + senderInterface,
		"smtp_tcp_port = " + port,
		"inet_protocols = ipv4",
		"smtp_connect_timeout = 5s",
	}, senderMain...)
	// $service_name in -o values expands to the master.cf service name.
	sender := newInstance(t, options{master: testMasterCF + "smtp unix - - n - - smtp\n  -o syslog_name=tern/$service_name-out\n", main: main})
	sender.start()
	return &relayPair{sender: sender, receiver: receiver, dns: dns, port: port}
}

func TestSMTPClientDeliversToSecondMX(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: over the wire\n\nmx fallback body\n", rcpt+"@remote.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	p.receiver.waitMbox(rcpt, "mx fallback body")
	want := regexp.MustCompile(`tern/smtp-out/smtp\[\d+\]: \w+: to=<` + rcpt + `@remote\.tst>, relay=mx2\.remote\.tst\[127\.0\.0\.1\]:` + p.port +
		`, delay=[0-9.]+, delays=[0-9./]+, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Ok: queued as \w+\)`)
	waitFor(t, 10*time.Second, "the sent line", func() bool { return want.MatchString(p.sender.log()) })
	mbox := p.receiver.mbox(rcpt)
	if !strings.Contains(mbox, "by mx.remote.tst (tern) with ESMTP") {
		t.Errorf("the receiver's Received header is missing:\n%s", mbox)
	}
}

// TestSMTPClientUTF8Domain: mail to a UTF-8 domain bounced with
// "Malformed domain name"; the client now asks DNS for the domain's ASCII
// form (xn--bcher-kva.tst) and delivers over SMTPUTF8.
func TestSMTPClientUTF8Domain(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: umlaut\n\nidna body\n", rcpt+"@bücher.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	p.receiver.waitMbox(rcpt, "idna body")
	want := regexp.MustCompile(`to=<` + rcpt + `@bücher\.tst>, relay=mx2\.remote\.tst\[127\.0\.0\.1\]:` + p.port + `, .*status=sent`)
	waitFor(t, 10*time.Second, "the sent line", func() bool { return want.MatchString(p.sender.log()) })
}

func TestSMTPClientNullMXBounces(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: to null mx\n\nnobody home\n", "-f", rcpt+"@example.tst", "someone@nullmx.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, 20*time.Second, "the bounce", func() bool {
		return strings.Contains(p.sender.mbox(rcpt), "Undelivered Mail Returned to Sender")
	})
	if !strings.Contains(p.sender.log(), "dsn=5.1.10, status=bounced") {
		t.Errorf("no 5.1.10 bounce in the log:\n%s", p.sender.log())
	}
	if !strings.Contains(p.sender.mbox(rcpt), "Status: 5.1.10") {
		t.Errorf("the report lacks Status: 5.1.10:\n%s", p.sender.mbox(rcpt))
	}
}

// TestSMTPClientDNSFailureDefers: a SERVFAIL defers the mail, never
// bounces it.
func TestSMTPClientDNSFailureDefers(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: dns down\n\nlater\n", "-f", rcpt+"@example.tst", "someone@broken.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, 20*time.Second, "the deferral", func() bool {
		return strings.Contains(p.sender.log(), "dsn=4.4.3, status=deferred")
	})
	if strings.Contains(p.sender.log(), "status=bounced") {
		t.Errorf("a DNS failure bounced:\n%s", p.sender.log())
	}
	if q := p.sender.run("mailq"); !strings.Contains(q, "someone@broken.tst") {
		t.Errorf("the message is not waiting in the queue:\n%s", q)
	}
}

// TestFlushRetriesAtOnce: mail deferred by a DNS failure waits out a long
// back-off until `tern queue flush` (postfix flush) sends it; `tern queue
// list` shows it with its reason meanwhile, as mailq does.
func TestFlushRetriesAtOnce(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t, "minimal_backoff_time = 1h", "maximal_backoff_time = 2h", "queue_run_delay = 1h")
	code, out := p.sender.sendmail("Subject: flush me\n\nflushed body\n", rcpt+"@broken.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, 20*time.Second, "the deferral", func() bool {
		return strings.Contains(p.sender.log(), "dsn=4.4.3, status=deferred")
	})
	// DNS is back: broken.tst's MX is the receiver, which takes mail for
	// remote.tst only, so it is routed there as remote.tst.
	p.dns.SetBehavior("broken.tst", mxtest.Answer)
	p.receiver.run("tern", "conf", "-e", "mydestination = $myhostname, remote.tst, broken.tst")
	p.receiver.reload()
	// The listing shows the reason once qmgr has saved the deferral.
	p.sender.waitQueueListing([]string{rcpt + "@broken.tst", "Host or domain name not found"}, "tern", "queue", "list")
	p.sender.run("tern", "queue", "flush")
	p.receiver.waitMbox(rcpt, "flushed body")
}
