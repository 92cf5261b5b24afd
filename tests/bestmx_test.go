package tests

import (
	"testing"
	"time"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// TestMailLoopAndBestMXTransport: mail for a domain whose MX is this host
// but which it does not take was sent to this host's own port 25 (round
// through its smtpd until the hop count bounced it, or, with nothing
// there, deferred again and again). Now, through the real suite, it
// bounces at once as "loops back to myself", and with best_mx_transport =
// local it is delivered here by the local agent instead.
func TestMailLoopAndBestMXTransport(t *testing.T) {
	rcpt := localUser(t)
	dns := mxtest.NewServer(t, "loop.tst. MX 10 mx.loop.tst.\nmx.loop.tst. A 127.0.0.1\n")
	instance := func(extra ...string) *instance {
		in := newInstance(t, options{
			master: testMasterCF + "smtp unix - - n - - smtp\n",
			main:   append([]string{"tern_dns_servers = " + dns.Addr(), "inet_protocols = ipv4", "smtp_connect_timeout = 5s"}, extra...),
		})
		in.start()
		return in
	}
	in := instance()
	if code, out := in.sendmail("Subject: loop\n\nround and round\n", "-f", rcpt+"@example.tst", "someone@loop.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitLog("status=bounced (mail for loop.tst loops back to myself)", 20*time.Second)
	best := instance("best_mx_transport = local")
	if code, out := best.sendmail("Subject: best mx\n\ndelivered here\n", "-f", rcpt+"@example.tst", rcpt+"@loop.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	best.waitMbox(rcpt, "delivered here")
}
