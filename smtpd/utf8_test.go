package smtpd

import "testing"

// TestSMTPUTF8RequestReachesTheQueue: smtpd checked the SMTPUTF8
// parameter of MAIL but did not pass it on, so the smtp client relayed
// a message with UTF-8 headers without SMTPUTF8 even to servers that
// offer it, and never refused it to those that do not. The request is
// now part of the envelope, and the Received header's protocol is
// RFC 6531's UTF8SMTP for such a transaction.
func TestSMTPUTF8RequestReachesTheQueue(t *testing.T) {
	ts := startServer(t, "")
	c := ts.dial(t)
	for _, tt := range []struct{ cmd, want string }{
		{"EHLO client.example", "250"},
		{"MAIL FROM:<jörg@example.org> SMTPUTF8", "250"},
		{"RCPT TO:<postmaster@mail.example.tst>", "250"},
		{"DATA", "354"},
		{"Subject: Grüße\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as"},
		{"MAIL FROM:<plain@example.org>", "250"},
		{"RCPT TO:<postmaster@mail.example.tst>", "250"},
		{"DATA", "354"},
		{"Subject: plain\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as"},
	} {
		c.cmd(tt.cmd, tt.want)
	}
	msgs := ts.cleanup.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages queued, want 2", len(msgs))
	}
	for i, want := range []struct{ utf8, proto string }{{"1", "UTF8SMTP"}, {"", "ESMTP"}} {
		req := msgs[i].req
		if got := req.Get("smtputf8"); got != want.utf8 {
			t.Errorf("message %d: smtputf8 %q, want %q", i+1, got, want.utf8)
		}
		if got := req.Get("protocol"); got != want.proto {
			t.Errorf("message %d: protocol %q, want %q", i+1, got, want.proto)
		}
	}
}

func TestUTF8Protocol(t *testing.T) {
	for in, want := range map[string]string{
		"ESMTP": "UTF8SMTP", "ESMTPS": "UTF8SMTPS", "ESMTPA": "UTF8SMTPA", "ESMTPSA": "UTF8SMTPSA",
		"SMTP": "SMTP", "unknown": "unknown",
	} {
		if got := utf8Protocol(in); got != want {
			t.Errorf("utf8Protocol(%q) = %q, want %q", in, got, want)
		}
	}
}
