package smtpd

import (
	"strings"
	"testing"
)

// TestXclient: smtpd_authorized_xclient_hosts was warned about as having
// no effect. An authorized client is offered XCLIENT; after it the
// session starts again (220) as the named client's, whom the
// restrictions judge (192.0.2.9 is outside mynetworks: no relaying) and
// whom the envelope names; others get 550 5.7.0.
func TestXclient(t *testing.T) {
	ts := startServer(t, "smtpd_authorized_xclient_hosts = 127.0.0.0/8\nmynetworks = 127.0.0.0/8")
	c := ts.dial(t)
	if r := c.cmd("EHLO proxy.example", "250"); !strings.Contains(r, "XCLIENT NAME ADDR") {
		t.Fatalf("EHLO lacks XCLIENT:\n%s", r)
	}
	c.cmd("MAIL FROM:<a@remote.example>", "250")
	c.cmd("RCPT TO:<b@elsewhere.example>", "250") // 127.0.0.1 may relay
	c.cmd("XCLIENT ADDR=192.0.2.9", "503 5.5.1")
	c.cmd("RSET", "250")
	c.cmd("XCLIENT ADDR=not-an-address", "501 5.5.4 Error: bad ADDR syntax")
	c.cmd("XCLIENT COLOR=red", "501 5.5.4 Error: bad XCLIENT attribute name: COLOR")
	c.cmd("XCLIENT NAME=spike.example ADDR=192.0.2.9 PORT=4711 HELO=spike.example PROTO=ESMTP", "220 ")
	c.cmd("EHLO spike.example", "250")
	c.cmd("MAIL FROM:<a@remote.example>", "250")
	c.cmd("RCPT TO:<b@elsewhere.example>", "454 4.7.1 <b@elsewhere.example>: Relay access denied")
	c.cmd("RCPT TO:<postmaster@example.tst>", "250")
	c.cmd("DATA", "354")
	c.cmd("Subject: via xclient\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as")
	msgs := ts.cleanup.messages()
	if len(msgs) != 1 || msgs[0].req.Get("client_addr") != "192.0.2.9" || msgs[0].req.Get("client_name") != "spike.example" {
		t.Errorf("queued %+v", msgs)
	}

	other := startServer(t, "smtpd_authorized_xclient_hosts = 192.0.2.0/24")
	c = other.dial(t)
	if r := c.cmd("EHLO client.example", "250"); strings.Contains(r, "XCLIENT") {
		t.Errorf("XCLIENT offered to an unauthorized client:\n%s", r)
	}
	c.cmd("XCLIENT ADDR=192.0.2.9", "550 5.7.0 Error: insufficient authorization")
}
