package smtpd

import "testing"

// TestAllowMinUser: allow_min_user was an unknown name and smtpd took
// addresses beginning with "-", which a command given the address as an
// argument may take for an option. They are refused now, quoted or not,
// as Postfix refuses them, unless allow_min_user = yes.
func TestAllowMinUser(t *testing.T) {
	c := startServer(t, "").dial(t)
	c.cmd("EHLO client.example.org", "250")
	c.cmd("MAIL FROM:<-f@example.org>", "501 5.1.7 Bad sender address syntax")
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<-oQ/tmp/x@mx.example.tst>", "501 5.1.3 Bad recipient address syntax")
	c.cmd(`RCPT TO:<"-x"@mx.example.tst>`, "501 5.1.3 Bad recipient address syntax")
	c.cmd("RCPT TO:<x-y@mx.example.tst>", "250")

	c = startServer(t, "allow_min_user = yes").dial(t)
	c.cmd("EHLO client.example.org", "250")
	c.cmd("MAIL FROM:<-f@example.org>", "250")
	c.cmd("RCPT TO:<-x@mx.example.tst>", "250")
}
