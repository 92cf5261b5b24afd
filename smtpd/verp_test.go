package smtpd

import (
	"strings"
	"testing"
)

// TestXVERP: MAIL FROM ... XVERP was refused as an unknown parameter.
// A client of smtpd_authorized_verp_clients is offered XVERP and may ask
// for it, with default_verp_delimiters or its own from
// verp_delimiter_filter; the delimiters go to the queue with the message.
// Other clients are neither offered it nor allowed it.
func TestXVERP(t *testing.T) {
	ts := startServer(t, "smtpd_authorized_verp_clients = 127.0.0.0/8")
	c := ts.dial(t)
	if ehlo := c.cmd("EHLO client.example.org", "250"); !strings.Contains(ehlo, "250-XVERP\r\n") && !strings.Contains(ehlo, "250 XVERP\r\n") {
		t.Errorf("XVERP not offered:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<list@example.org> XVERP=+x", "501 5.5.4 Error: XVERP needs two characters from -=+")
	for _, tt := range []struct{ param, want string }{{"XVERP", "+="}, {"XVERP=-=", "-="}} {
		c.cmd("MAIL FROM:<list@example.org> "+tt.param, "250")
		c.cmd("RCPT TO:<joe@mx.example.tst>", "250")
		c.cmd("DATA", "354")
		c.cmd("Subject: x\r\n\r\nbody\r\n.", "250")
		msgs := ts.cleanup.messages()
		if got := msgs[len(msgs)-1].req.Get("verp"); got != tt.want {
			t.Errorf("%s: verp=%q reached the queue, want %q", tt.param, got, tt.want)
		}
	}

	c = startServer(t, "smtpd_authorized_verp_clients =").dial(t)
	if ehlo := c.cmd("EHLO client.example.org", "250"); strings.Contains(ehlo, "XVERP") {
		t.Errorf("XVERP offered to a client not authorized:\n%s", ehlo)
	}
	c.cmd("MAIL FROM:<list@example.org> XVERP", "555 5.5.4 Unsupported option: XVERP")
}
