package tests

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"
)

// proxySession connects to addr, sends header (a PROXY line, or nothing)
// and then the SMTP commands, and returns the server's replies.
func proxySession(t *testing.T, addr, header string, cmds ...string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(header)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var replies []string
	read := func() bool {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return false
			}
			if len(line) < 4 || line[3] != '-' {
				replies = append(replies, strings.TrimSpace(line))
				return true
			}
		}
	}
	if !read() {
		return replies
	}
	for _, cmd := range cmds {
		if _, err := c.Write([]byte(cmd + "\r\n")); err != nil || !read() {
			break
		}
	}
	return replies
}

// TestUpstreamProxyProtocol: smtpd_upstream_proxy_protocol (and, for
// Debian's postscreen entry, postscreen_upstream_proxy_protocol) was
// unknown, so tern behind HAProxy or a load balancer saw every client as
// the balancer. With haproxy, smtpd takes the client from the PROXY
// header: it is logged and judged by the restrictions (a client outside
// mynetworks may not relay); a connection without a header is dropped.
func TestUpstreamProxyProtocol(t *testing.T) {
	for _, tt := range []struct {
		name, master string
		main         []string
	}{
		{"smtpd", testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n  -o smtpd_upstream_proxy_protocol=haproxy\n", nil},
		{"postscreen entry", testMasterCF + "127.0.0.1:0 inet n - n - 1 postscreen\nsmtpd pass - - n - - smtpd\n",
			[]string{"postscreen_upstream_proxy_protocol = haproxy"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := newInstance(t, options{master: tt.master, main: append([]string{"smtpd_error_sleep_time = 0"}, tt.main...)})
			in.start()
			addr := in.smtpAddr("127.0.0.1:0")
			got := proxySession(t, addr, "PROXY TCP4 192.0.2.9 127.0.0.1 54321 25\r\n",
				"EHLO client.example", "MAIL FROM:<a@remote.tst>", "RCPT TO:<b@elsewhere.tst>", "QUIT")
			if len(got) < 4 || !strings.HasPrefix(got[0], "220 ") || !strings.HasPrefix(got[3], "454 4.7.1 <b@elsewhere.tst>: Relay access denied") {
				t.Errorf("a proxied client outside mynetworks: %q", got)
			}
			in.waitLog("connect from unknown[192.0.2.9]", 10*time.Second)
			got = proxySession(t, addr, "PROXY TCP4 127.0.0.1 127.0.0.1 54322 25\r\n",
				"EHLO client.example", "MAIL FROM:<a@remote.tst>", "RCPT TO:<b@elsewhere.tst>", "QUIT")
			if len(got) < 4 || !strings.HasPrefix(got[3], "250") {
				t.Errorf("a proxied client in mynetworks may relay: %q", got)
			}
			if got := proxySession(t, addr, "EHLO no.header.example\r\n"); len(got) != 0 {
				t.Errorf("a connection without a PROXY header was served: %q", got)
			}
			in.waitLog("warning: haproxy read: not a PROXY protocol header", 10*time.Second)
		})
	}
}
