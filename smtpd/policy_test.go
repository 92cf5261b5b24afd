package smtpd

import (
	"bufio"
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/smtpd/restrict"

	"github.com/tern-mta/tern/internal/testutil"
)

// fakePolicyServer answers each request with the next of its replies
// (the last one repeated) and records requests and connections.
type fakePolicyServer struct {
	mu       sync.Mutex
	replies  []string
	requests []map[string]string
	conns    int
	// closeAfter closes a connection after this many requests (0: never).
	closeAfter int
}

func (f *fakePolicyServer) handle(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.conns++
	f.mu.Unlock()
	br := bufio.NewReader(c)
	for n := 1; ; n++ {
		req := map[string]string{}
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				break
			}
			k, v, _ := strings.Cut(line, "=")
			req[k] = v
		}
		f.mu.Lock()
		f.requests = append(f.requests, req)
		reply := f.replies[min(len(f.requests), len(f.replies))-1]
		f.mu.Unlock()
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
		if f.closeAfter > 0 && n >= f.closeAfter {
			return
		}
	}
}

// startPolicyServer listens on a unix socket and returns the service.
func startPolicyServer(t *testing.T, f *fakePolicyServer) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Serve(t, l, f.handle)
	return "unix:" + path
}

func testPolicyClient() *policyClient {
	return &policyClient{timeout: 5 * time.Second, maxIdle: time.Minute, maxTTL: time.Hour,
		retryDelay: 10 * time.Millisecond, tries: 2, pool: &policyPool{idle: map[string][]*policyConn{}}}
}

func TestPolicyClientQueries(t *testing.T) {
	f := &fakePolicyServer{replies: []string{"action=DEFER_IF_PERMIT Greylisted\n\n", "action=PREPEND X-Greylist: delayed\nreason=x\n\n", "action=dunno\n\n"}}
	service := startPolicyServer(t, f)
	p := testPolicyClient()
	defer p.close()
	attrs := [][2]string{{"request", "smtpd_access_policy"}, {"recipient", "a@example.com"}}
	for _, want := range []string{"DEFER_IF_PERMIT Greylisted", "PREPEND X-Greylist: delayed", "dunno"} {
		got, err := p.Query(context.Background(), restrict.PolicyService{Addr: service}, attrs)
		if err != nil || got != want {
			t.Fatalf("Query = %q, %v; want %q", got, err, want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns != 1 {
		t.Errorf("%d connections for 3 queries, want 1 kept", f.conns)
	}
	if r := f.requests[0]; r["request"] != "smtpd_access_policy" || r["recipient"] != "a@example.com" {
		t.Errorf("request %v", r)
	}
}

// TestPolicyClientReconnectsWhenServerCloses: a kept connection the
// server has closed is replaced without using up a try.
func TestPolicyClientReconnectsWhenServerCloses(t *testing.T) {
	f := &fakePolicyServer{replies: []string{"action=OK\n\n"}, closeAfter: 1}
	service := startPolicyServer(t, f)
	p := testPolicyClient()
	p.tries = 1
	defer p.close()
	for i := range 3 {
		if got, err := p.Query(context.Background(), restrict.PolicyService{Addr: service}, nil); err != nil || got != "OK" {
			t.Fatalf("query %d: %q, %v", i, got, err)
		}
	}
}

func TestPolicyClientFailures(t *testing.T) {
	for _, tc := range []struct {
		name, reply string
	}{
		{"no action", "reason=none\n\n"},
		{"line too long", "action=" + strings.Repeat("x", 5000) + "\n\n"},
		{"no end", "action=OK\n"},
		// Found by FuzzReadPolicyReply: a CR inside the action would have
		// reached the client in the SMTP reply text.
		{"control character", "action=450 \r0\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakePolicyServer{replies: []string{tc.reply}, closeAfter: 1}
			service := startPolicyServer(t, f)
			p := testPolicyClient()
			p.timeout = 300 * time.Millisecond
			defer p.close()
			if got, err := p.Query(context.Background(), restrict.PolicyService{Addr: service}, nil); err == nil {
				t.Errorf("Query = %q, want an error", got)
			}
		})
	}
	p := testPolicyClient()
	if _, err := p.Query(context.Background(), restrict.PolicyService{Addr: "unix:" + filepath.Join(t.TempDir(), "none")}, nil); err == nil {
		t.Error("query of a missing server succeeded")
	}
}

func TestPolicyAddress(t *testing.T) {
	p := &policyClient{queueDir: "/var/spool/tern"}
	for in, want := range map[string]string{
		"unix:private/policy":   "unix /var/spool/tern/private/policy",
		"unix:/run/policy.sock": "unix /run/policy.sock",
		"inet:127.0.0.1:10023":  "tcp 127.0.0.1:10023",
	} {
		if n, a := p.address(in); n+" "+a != want {
			t.Errorf("address(%q) = %s %s, want %s", in, n, a, want)
		}
	}
}

func FuzzReadPolicyReply(f *testing.F) {
	for _, s := range []string{"action=OK\n\n", "reason=x\naction=DUNNO\n\n", "action=\n\n", "\n", "action=a=b\r\n\r\n", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		action, err := readPolicyReply(bufio.NewReaderSize(strings.NewReader(in), policyReplyLineLen))
		if err != nil {
			return
		}
		if strings.ContainsAny(action, "\r\n") || !strings.Contains(in, "action="+action) {
			t.Fatalf("readPolicyReply(%q) = %q", in, action)
		}
	})
}

// TestPolicyClientRequestLimit: smtpd_policy_service_request_limit
// closes a connection after that many queries, and max_ttl after its age.
func TestPolicyClientRequestLimit(t *testing.T) {
	f := &fakePolicyServer{replies: []string{"action=DUNNO\n\n"}}
	service := startPolicyServer(t, f)
	p := testPolicyClient()
	p.requestLimit = 2
	defer p.close()
	for range 5 {
		if _, err := p.Query(context.Background(), restrict.PolicyService{Addr: service}, nil); err != nil {
			t.Fatal(err)
		}
	}
	p.requestLimit, p.maxTTL = 0, time.Nanosecond
	for range 2 {
		if _, err := p.Query(context.Background(), restrict.PolicyService{Addr: service}, nil); err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conns != 5 {
		t.Errorf("%d connections, want 3 for 5 queries at 2 a connection and 2 for 2 queries past max_ttl", f.conns)
	}
}

// TestPolicyLimitsForBracedService: a braced check_policy_service's own
// settings replace main.cf's for its queries, and the kept connections
// stay shared.
func TestPolicyLimitsForBracedService(t *testing.T) {
	p := testPolicyClient()
	if q := p.limitsFor(restrict.PolicyService{Addr: "inet:h:1"}); q != p {
		t.Error("a service without settings got a client of its own")
	}
	q := p.limitsFor(restrict.PolicyService{Addr: "inet:h:1", Timeout: time.Second, TryLimit: 5, RequestLimit: 7})
	if q.timeout != time.Second || q.tries != 5 || q.requestLimit != 7 || q.maxIdle != p.maxIdle || q.pool != p.pool {
		t.Errorf("limits %+v from %+v", q, p)
	}
}
