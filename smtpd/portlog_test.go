package smtpd

import (
	"regexp"
	"testing"
	"time"
)

// TestClientPortLogging: smtpd_client_port_logging was a known name with
// no effect. With it, the client's port follows its address in the logs,
// as Postfix writes "name[addr]:port".
func TestClientPortLogging(t *testing.T) {
	ts := startServer(t, "smtpd_client_port_logging = yes")
	c := ts.dial(t)
	c.cmd("EHLO client.example", "250")
	c.cmd("QUIT", "221")
	re := regexp.MustCompile(`connect from unknown\[127\.0\.0\.1\]:\d+\n`)
	deadline := time.Now().Add(5 * time.Second)
	for !re.MatchString(ts.log.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no port in the connect line:\n%s", ts.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
