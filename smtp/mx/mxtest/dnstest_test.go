package mxtest

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

func ask(t *testing.T, network, addr, name string, qtype uint16) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	resp, _, err := c.Exchange(m, addr)
	return resp, err
}

func TestServer(t *testing.T) {
	s := NewServer(t, `
$TTL 60
example.test.     MX 10 mx.example.test. ; a comment
mx.example.test.  CNAME host.example.test.
host.example.test. A 192.0.2.1
`)
	tests := []struct {
		name     string
		setup    func()
		network  string
		qname    string
		qtype    uint16
		rcode    int
		answers  int
		trunc    bool
		timeouts bool
	}{
		{name: "MX", network: "udp", qname: "EXAMPLE.test", qtype: dns.TypeMX, answers: 1},
		{name: "CNAME followed", network: "tcp", qname: "mx.example.test", qtype: dns.TypeA, answers: 2},
		{name: "NODATA", network: "udp", qname: "example.test", qtype: dns.TypeAAAA},
		{name: "NXDOMAIN", network: "udp", qname: "nx.example.test", qtype: dns.TypeA, rcode: dns.RcodeNameError},
		{name: "SERVFAIL", setup: func() { s.SetBehavior("example.test", ServFail) },
			network: "udp", qname: "example.test", qtype: dns.TypeMX, rcode: dns.RcodeServerFailure},
		{name: "REFUSED", setup: func() { s.SetBehavior("example.test", Refused) },
			network: "tcp", qname: "example.test", qtype: dns.TypeMX, rcode: dns.RcodeRefused},
		{name: "truncated over UDP", setup: func() { s.SetBehavior("example.test", Truncate) },
			network: "udp", qname: "example.test", qtype: dns.TypeMX, trunc: true},
		{name: "full over TCP", network: "tcp", qname: "example.test", qtype: dns.TypeMX, answers: 1},
		{name: "timeout", setup: func() { s.SetBehavior("example.test", Timeout) },
			network: "udp", qname: "example.test", qtype: dns.TypeMX, timeouts: true},
		{name: "back to normal", setup: func() { s.SetBehavior("example.test", Answer) },
			network: "udp", qname: "example.test", qtype: dns.TypeMX, answers: 1},
		{name: "Set replaces", setup: func() {
			s.Set("example.test", dns.TypeMX, "example.test. MX 5 a.test.\nexample.test. MX 6 b.test.")
		}, network: "udp", qname: "example.test", qtype: dns.TypeMX, answers: 2},
		{name: "Remove", setup: func() { s.Remove("example.test") },
			network: "udp", qname: "example.test", qtype: dns.TypeMX, rcode: dns.RcodeNameError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			resp, err := ask(t, tc.network, s.Addr(), tc.qname, tc.qtype)
			if tc.timeouts {
				if err == nil {
					t.Fatalf("got an answer %v, want a time-out", resp)
				}
				return
			}
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			if resp.Rcode != tc.rcode || len(resp.Answer) != tc.answers || resp.Truncated != tc.trunc {
				t.Errorf("rcode %d, %d answers, truncated %v; want %d, %d, %v",
					resp.Rcode, len(resp.Answer), resp.Truncated, tc.rcode, tc.answers, tc.trunc)
			}
		})
	}
	if n := len(s.Queries()); n != len(tests) {
		t.Errorf("server logged %d queries, want %d", n, len(tests))
	}
}

func TestParseZoneError(t *testing.T) {
	if _, err := ParseZone("example.test. MX notanumber mx.example.test."); err == nil {
		t.Error("ParseZone accepted a bad record")
	}
}
