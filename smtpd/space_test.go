package smtpd

import "testing"

// TestInsufficientStorage: queue_minfree was reported as having no
// effect. MAIL is refused with 452 4.3.1 when the queue's file system has
// too little room for queue_minfree or for the declared size.
func TestInsufficientStorage(t *testing.T) {
	tests := []struct{ conf, mail, want string }{
		{"", "MAIL FROM:<a@b.tst>", "250 2.1.0"},
		{"", "MAIL FROM:<a@b.tst> SIZE=1000", "250 2.1.0"},
		{"queue_minfree = 9223372036854775807", "MAIL FROM:<a@b.tst>", "452 4.3.1 Insufficient system storage"},
		{"message_size_limit = 0", "MAIL FROM:<a@b.tst> SIZE=1000000000000000", "452 4.3.1 Insufficient system storage"},
	}
	for _, tt := range tests {
		ts := startServer(t, tt.conf)
		c := ts.dial(t)
		c.cmd("EHLO client.example", "250")
		c.cmd(tt.mail, tt.want)
	}
}

// TestQueueMinFreeFloor: as in Postfix, at least 1.5 times
// message_size_limit must be free whatever queue_minfree says.
func TestQueueMinFreeFloor(t *testing.T) {
	ts := startServer(t, "message_size_limit = 6148914691236517204\nqueue_minfree = 0")
	c := ts.dial(t)
	c.cmd("EHLO client.example", "250")
	c.cmd("MAIL FROM:<a@b.tst>", "452 4.3.1 Insufficient system storage")
}
