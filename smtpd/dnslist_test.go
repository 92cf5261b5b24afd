package smtpd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tern-mta/tern/smtp/mx"
	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

func TestDNSListCache(t *testing.T) {
	srv := mxtest.NewServer(t, "2.0.0.127.bl.test. A 127.0.0.2\n2.0.0.127.bl.test. TXT \"listed\"\n")
	srv.SetBehavior("3.0.0.127.bl.test", mxtest.ServFail)
	c := newDNSListCache(&mx.Resolver{Servers: []string{srv.Addr()}, Timeout: 2 * time.Second, Attempts: 1})
	now := time.Unix(1_000_000, 0)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	aQueries := func(name string) int {
		n := 0
		for _, q := range srv.Queries() {
			if q.Name == name+"." && q.Type == dns.TypeA {
				n++
			}
		}
		return n
	}
	for range 3 {
		addrs, text, err := c.lookup(ctx, "2.0.0.127.bl.test")
		if fmt.Sprint(addrs) != "[127.0.0.2]" || text != "listed" || err != nil {
			t.Fatalf("lookup: %v %q %v", addrs, text, err)
		}
		if _, _, err := c.lookup(ctx, "4.0.0.127.bl.test"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.lookup(ctx, "3.0.0.127.bl.test"); err == nil {
			t.Fatal("a SERVFAIL gave no error")
		}
	}
	if n, m, f := aQueries("2.0.0.127.bl.test"), aQueries("4.0.0.127.bl.test"), aQueries("3.0.0.127.bl.test"); n != 1 || m != 1 || f != 3 {
		t.Errorf("A queries: listed %d, not listed %d, failing %d; want 1, 1 and 3 (failures are not kept)", n, m, f)
	}
	now = now.Add(dnsListTTL)
	if _, _, err := c.lookup(ctx, "2.0.0.127.bl.test"); err != nil || aQueries("2.0.0.127.bl.test") != 2 {
		t.Errorf("after the TTL: %v, %d queries; want a second query", err, aQueries("2.0.0.127.bl.test"))
	}
}
