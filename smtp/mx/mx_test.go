package mx

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// testZone is shared by the LookupMX table.
const testZone = `
ordered.test.      MX 20 b.ordered.test.
ordered.test.      MX 10 a.ordered.test.
a.ordered.test.    A  192.0.2.1
b.ordered.test.    A  192.0.2.2

implicit.test.     A  192.0.2.10

dual.test.         MX 10 mx.dual.test.
mx.dual.test.      A    192.0.2.20
mx.dual.test.      AAAA 2001:db8::20

v6only.test.       MX 10 mx.v6only.test.
mx.v6only.test.    AAAA 2001:db8::30

null.test.         MX 0 .
null.test.         A  192.0.2.40

servfail.test.     MX 10 mx.servfail.test.

cname.test.        MX 10 alias.cname.test.
alias.cname.test.  CNAME real.cname.test.
real.cname.test.   A  192.0.2.50

domalias.test.     CNAME ordered.test.

literal.test.      MX 10 192.0.2.60.
literal.test.      MX 20 mx.literal.test.
mx.literal.test.   A  192.0.2.61

onlyliteral.test.  MX 10 192.0.2.62.

noaddr.test.       MX 10 gone.noaddr.test.
noaddr.test.       MX 20 empty.noaddr.test.
noaddr.test.       MX 30 mx.noaddr.test.
empty.noaddr.test. TXT "no address here"
mx.noaddr.test.    A  192.0.2.70

allgone.test.      MX 10 gone1.allgone.test.
allgone.test.      MX 20 gone2.allgone.test.

someflaky.test.    MX 10 gone.someflaky.test.
someflaky.test.    MX 20 flaky.someflaky.test.

self.test.         MX 10 self.test.
self.test.         A  192.0.2.80

MiXed.Test.        MX 10 MX.MiXed.TEST.
mx.mixed.test.     A  192.0.2.90

dup.test.          MX 20 mx.dup.test.
dup.test.          MX 10 mx.dup.test.
mx.dup.test.       A  192.0.2.100

truncated.test.    MX 10 mx.truncated.test.
mx.truncated.test. A  192.0.2.110

exists.test.       TXT "no mail records"
`

// newResolver returns a resolver for srv with a seeded random source.
func newResolver(addrs ...string) *Resolver {
	return &Resolver{
		Servers:  addrs,
		Timeout:  2 * time.Second,
		Attempts: 1,
		IPv4:     true,
		IPv6:     true,
		rnd:      rand.New(rand.NewPCG(1, 2)),
	}
}

func addrs(ss ...string) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		out = append(out, netip.MustParseAddr(s))
	}
	return out
}

// checkErr compares err with the wanted class and text (a prefix).
func checkErr(t *testing.T, err, class error, text string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("error = %v, want class %v", err, class)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not *Error", err)
	}
	if !strings.HasPrefix(e.Error(), text) {
		t.Errorf("error text = %q, want prefix %q", e.Error(), text)
	}
}

func TestLookupMX(t *testing.T) {
	srv := mxtest.NewServer(t, testZone)
	srv.SetBehavior("servfail.test", mxtest.ServFail)
	srv.SetBehavior("flaky.someflaky.test", mxtest.ServFail)
	srv.SetBehavior("truncated.test", mxtest.Truncate)
	tests := []struct {
		name       string
		domain     string
		ipv4, ipv6 bool
		want       []Host
		class      error
		text       string
		warning    string
	}{
		{name: "preference order", domain: "ordered.test", want: []Host{
			{Name: "a.ordered.test", Pref: 10, Addrs: addrs("192.0.2.1")},
			{Name: "b.ordered.test", Pref: 20, Addrs: addrs("192.0.2.2")}}},
		{name: "implicit MX", domain: "implicit.test", want: []Host{
			{Name: "implicit.test", Pref: 0, Addrs: addrs("192.0.2.10"), Implicit: true}}},
		{name: "IPv4 only", domain: "dual.test", ipv4: true, want: []Host{
			{Name: "mx.dual.test", Pref: 10, Addrs: addrs("192.0.2.20")}}},
		{name: "IPv6 only", domain: "dual.test", ipv6: true, want: []Host{
			{Name: "mx.dual.test", Pref: 10, Addrs: addrs("2001:db8::20")}}},
		{name: "AAAA only host with IPv4 only", domain: "v6only.test", ipv4: true, class: ErrNotFound,
			text: "Host or domain name not found. Name service error for name=mx.v6only.test type=A: " +
				"Host found but no data record of requested type"},
		{name: "null MX", domain: "null.test", class: ErrNullMX,
			text: "Domain null.test does not accept mail (nullMX)"},
		{name: "NXDOMAIN", domain: "nx.test", class: ErrNotFound,
			text: "Host or domain name not found. Name service error for name=nx.test type=MX: Host not found"},
		{name: "no MX and no address", domain: "exists.test", class: ErrNotFound,
			text: "Host or domain name not found. Name service error for name=exists.test type=A: " +
				"Host found but no data record of requested type"},
		{name: "SERVFAIL", domain: "servfail.test", class: ErrTemporary,
			text: "Host or domain name not found. Name service error for name=servfail.test type=MX: " +
				"Host not found, try again"},
		{name: "CNAME to the MX target", domain: "cname.test", want: []Host{
			{Name: "alias.cname.test", Pref: 10, Addrs: addrs("192.0.2.50"), Canonical: "real.cname.test"}}},
		{name: "domain is a CNAME", domain: "domalias.test", want: []Host{
			{Name: "a.ordered.test", Pref: 10, Addrs: addrs("192.0.2.1")},
			{Name: "b.ordered.test", Pref: 20, Addrs: addrs("192.0.2.2")}}},
		{name: "IP literal MX target skipped", domain: "literal.test",
			want:    []Host{{Name: "mx.literal.test", Pref: 20, Addrs: addrs("192.0.2.61")}},
			warning: "numeric domain name in resource data of MX record for literal.test: 192.0.2.60"},
		{name: "only IP literal MX targets", domain: "onlyliteral.test", class: ErrNotFound,
			text: "no MX host for onlyliteral.test has a valid host name"},
		{name: "MX hosts without addresses skipped", domain: "noaddr.test", want: []Host{
			{Name: "mx.noaddr.test", Pref: 30, Addrs: addrs("192.0.2.70")}}},
		{name: "no MX host has an address", domain: "allgone.test", class: ErrNotFound,
			text:    "Host or domain name not found. Name service error for name=gone1.allgone.test type=A: Host not found",
			warning: "no MX host for allgone.test has a valid address record"},
		{name: "temporary host error dominates", domain: "someflaky.test", class: ErrTemporary,
			text: "Host or domain name not found. Name service error for name=flaky.someflaky.test type=A: " +
				"Host not found, try again"},
		{name: "MX naming the domain itself", domain: "self.test", want: []Host{
			{Name: "self.test", Pref: 10, Addrs: addrs("192.0.2.80")}}},
		{name: "case and trailing dot", domain: "MIXED.test.", want: []Host{
			{Name: "mx.mixed.test", Pref: 10, Addrs: addrs("192.0.2.90")}}},
		{name: "duplicate MX keeps best preference", domain: "dup.test", want: []Host{
			{Name: "mx.dup.test", Pref: 10, Addrs: addrs("192.0.2.100")}}},
		{name: "truncated UDP answer retried over TCP", domain: "truncated.test", want: []Host{
			{Name: "mx.truncated.test", Pref: 10, Addrs: addrs("192.0.2.110")}}},
		{name: "IP literal domain", domain: "[192.0.2.120]", want: []Host{
			{Name: "192.0.2.120", Pref: 0, Addrs: addrs("192.0.2.120")}}},
		{name: "malformed domain", domain: "bad domain.test", class: ErrNotFound,
			text: `Host or domain name not found. Name service error for name="bad domain.test" type=MX: Malformed`},
		{name: "empty label", domain: "a..test", class: ErrNotFound, text: "Host or domain name not found."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newResolver(srv.Addr())
			if tc.ipv4 || tc.ipv6 {
				r.IPv4, r.IPv6 = tc.ipv4, tc.ipv6
			}
			var mu sync.Mutex
			var warnings []string
			r.Logf = func(format string, args ...any) {
				mu.Lock()
				defer mu.Unlock()
				warnings = append(warnings, fmt.Sprintf(format, args...))
			}
			got, err := r.LookupMX(context.Background(), tc.domain)
			if tc.class != nil {
				checkErr(t, err, tc.class, tc.text)
			} else {
				if err != nil {
					t.Fatalf("LookupMX: %v", err)
				}
				if !slices.EqualFunc(got, tc.want, equalHost) {
					t.Errorf("LookupMX = %v, want %v", got, tc.want)
				}
			}
			if tc.warning != "" && !slices.Contains(warnings, tc.warning) {
				t.Errorf("warnings = %q, want %q", warnings, tc.warning)
			}
		})
	}
}

func equalHost(a, b Host) bool {
	return a.Name == b.Name && a.Pref == b.Pref && slices.Equal(a.Addrs, b.Addrs) && a.Canonical == b.Canonical
}

func TestTruncatedUsesTCP(t *testing.T) {
	srv := mxtest.NewServer(t, "trunc.test. MX 10 mx.trunc.test.\nmx.trunc.test. A 192.0.2.1\n")
	srv.SetBehavior("trunc.test", mxtest.Truncate)
	if _, err := newResolver(srv.Addr()).LookupMX(context.Background(), "trunc.test"); err != nil {
		t.Fatalf("LookupMX: %v", err)
	}
	var nets []string
	for _, q := range srv.Queries() {
		if q.Name == "trunc.test." && q.Type == dns.TypeMX {
			nets = append(nets, q.Net)
		}
	}
	if !slices.Equal(nets, []string{"udp", "tcp"}) {
		t.Errorf("MX queries went over %v, want [udp tcp]", nets)
	}
}

func TestLargeAnswerUsesTCP(t *testing.T) {
	var zone strings.Builder
	const n = 300 // 300 A records do not fit in 4096 octets
	for i := range n {
		fmt.Fprintf(&zone, "big.test. A 10.%d.%d.1\n", i/256, i%256)
	}
	srv := mxtest.NewServer(t, zone.String())
	r := newResolver(srv.Addr())
	r.IPv6 = false
	h, err := r.LookupHost(context.Background(), "big.test")
	if err != nil {
		t.Fatalf("LookupHost: %v", err)
	}
	if len(h.Addrs) != n {
		t.Errorf("got %d addresses, want %d", len(h.Addrs), n)
	}
	if !slices.ContainsFunc(srv.Queries(), func(q mxtest.Query) bool { return q.Net == "tcp" }) {
		t.Errorf("no TCP query after a truncated answer: %v", srv.Queries())
	}
}

func TestTruncatedWithoutTCP(t *testing.T) {
	srv := mxtest.NewServer(t, "t.test. A 192.0.2.1\n")
	srv.SetBehavior("t.test", mxtest.TruncateNoTCP)
	r := newResolver(srv.Addr())
	r.Timeout = 2 * time.Second // the UDP answer must come in time to be seen truncated
	r.IPv6 = false
	_, err := r.LookupHost(context.Background(), "t.test")
	checkErr(t, err, ErrTemporary, "Host or domain name not found. Name service error for name=t.test type=A: Host not found, try again")
	var e *Error
	if errors.As(err, &e) && (e.Err == nil || !strings.Contains(e.Err.Error(), "truncated UDP answer")) {
		t.Errorf("cause = %v, want the truncation named", e.Err)
	}
	var nets []string
	for _, q := range srv.Queries() {
		nets = append(nets, q.Net)
	}
	if !slices.Equal(nets, []string{"udp", "tcp"}) {
		t.Errorf("queries went over %v, want [udp tcp]", nets)
	}
}

func TestNoServerAnswering(t *testing.T) {
	r := newResolver(mxtest.NewSilent(t), mxtest.NewSilent(t))
	r.Timeout = 200 * time.Millisecond
	r.Attempts = 2
	start := time.Now()
	_, err := r.LookupMX(context.Background(), "example.test")
	checkErr(t, err, ErrTemporary, "Host or domain name not found. Name service error for name=example.test type=MX: Host not found, try again")
	if d := time.Since(start); d < 700*time.Millisecond || d > 5*time.Second {
		t.Errorf("lookup took %v, want about 4 time-outs of 200ms", d)
	}
}

func TestServerFallback(t *testing.T) {
	good := mxtest.NewServer(t, "fb.test. MX 10 mx.fb.test.\nmx.fb.test. A 192.0.2.1\n")
	refusing := mxtest.NewServer(t, "")
	refusing.SetBehavior("fb.test", mxtest.Refused)
	refusing.SetBehavior("mx.fb.test", mxtest.Refused)
	r := newResolver(mxtest.NewSilent(t), refusing.Addr(), good.Addr())
	r.Timeout = time.Second // the silent server's wait, and the good one's answer
	got, err := r.LookupMX(context.Background(), "fb.test")
	if err != nil {
		t.Fatalf("LookupMX: %v", err)
	}
	want := []Host{{Name: "mx.fb.test", Pref: 10, Addrs: addrs("192.0.2.1")}}
	if !slices.EqualFunc(got, want, equalHost) {
		t.Errorf("LookupMX = %v, want %v", got, want)
	}
	if len(refusing.Queries()) == 0 {
		t.Error("the refusing server was not asked")
	}
}

func TestNoServersAndCancel(t *testing.T) {
	_, err := (&Resolver{}).LookupMX(context.Background(), "example.test")
	checkErr(t, err, ErrTemporary, "Host or domain name not found.")
	if !errors.Is(err, errNoServers) {
		t.Errorf("error %v does not wrap errNoServers", err)
	}

	r := newResolver(mxtest.NewSilent(t))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	r.Timeout = 10 * time.Second
	start := time.Now()
	_, err = r.LookupMX(ctx, "example.test")
	checkErr(t, err, ErrTemporary, "Host or domain name not found.")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not wrap context.Canceled", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancelled lookup took %v", d)
	}
}

func TestEqualPreferenceShuffle(t *testing.T) {
	srv := mxtest.NewServer(t, `
shuffle.test. MX 5  first.shuffle.test.
shuffle.test. MX 10 m1.shuffle.test.
shuffle.test. MX 10 m2.shuffle.test.
shuffle.test. MX 10 m3.shuffle.test.
shuffle.test. MX 10 m4.shuffle.test.
shuffle.test. MX 20 last.shuffle.test.
first.shuffle.test. A 192.0.2.1
m1.shuffle.test. A 192.0.2.11
m2.shuffle.test. A 192.0.2.12
m3.shuffle.test. A 192.0.2.13
m4.shuffle.test. A 192.0.2.14
last.shuffle.test. A 192.0.2.20
`)
	names := func(seed uint64, ordered bool) []string {
		r := newResolver(srv.Addr())
		r.rnd = rand.New(rand.NewPCG(seed, 0))
		r.Ordered = ordered
		hosts, err := r.LookupMX(context.Background(), "shuffle.test")
		if err != nil {
			t.Fatalf("LookupMX: %v", err)
		}
		var out []string
		for _, h := range hosts {
			out = append(out, h.Name)
		}
		return out
	}
	orders := make(map[string]bool)
	for seed := range uint64(30) {
		got := names(seed, false)
		if again := names(seed, false); !slices.Equal(got, again) {
			t.Fatalf("seed %d: %v then %v, want the same order", seed, got, again)
		}
		if len(got) != 6 || got[0] != "first.shuffle.test" || got[5] != "last.shuffle.test" {
			t.Fatalf("seed %d: %v breaks preference order", seed, got)
		}
		middle := slices.Clone(got[1:5])
		slices.Sort(middle)
		if !slices.Equal(middle, []string{"m1.shuffle.test", "m2.shuffle.test", "m3.shuffle.test", "m4.shuffle.test"}) {
			t.Fatalf("seed %d: %v lost or duplicated a host", seed, got)
		}
		orders[strings.Join(got, " ")] = true
	}
	if len(orders) < 5 {
		t.Errorf("30 seeds gave %d orders of 4 equal hosts, want more: %v", len(orders), orders)
	}
	// smtp_randomize_addresses = no: the order of the DNS answer.
	want := []string{"first.shuffle.test", "m1.shuffle.test", "m2.shuffle.test", "m3.shuffle.test", "m4.shuffle.test", "last.shuffle.test"}
	for seed := range uint64(10) {
		if got := names(seed, true); !slices.Equal(got, want) {
			t.Fatalf("Ordered, seed %d: %v, want %v", seed, got, want)
		}
	}
}

func TestAddressPreference(t *testing.T) {
	srv := mxtest.NewServer(t, `
pref.test. A 192.0.2.1
pref.test. A 192.0.2.2
pref.test. A 192.0.2.3
pref.test. AAAA 2001:db8::1
pref.test. AAAA 2001:db8::2
pref.test. AAAA 2001:db8::3
`)
	lookup := func(p AddrPreference, seed uint64) []netip.Addr {
		r := newResolver(srv.Addr())
		r.Preference = p
		r.rnd = rand.New(rand.NewPCG(seed, 7))
		h, err := r.LookupHost(context.Background(), "pref.test")
		if err != nil {
			t.Fatalf("LookupHost: %v", err)
		}
		if len(h.Addrs) != 6 {
			t.Fatalf("got %v, want 6 addresses", h.Addrs)
		}
		return h.Addrs
	}
	firstFamilies := make(map[bool]int)
	for seed := range uint64(20) {
		for i, a := range lookup(PreferIPv6, seed) {
			if a.Is6() != (i < 3) {
				t.Fatalf("PreferIPv6 seed %d: address %d is %v", seed, i, a)
			}
		}
		for i, a := range lookup(PreferIPv4, seed) {
			if a.Is4() != (i < 3) {
				t.Fatalf("PreferIPv4 seed %d: address %d is %v", seed, i, a)
			}
		}
		anyOrder := lookup(PreferAny, seed)
		if !slices.Equal(anyOrder, lookup(PreferAny, seed)) {
			t.Fatalf("PreferAny seed %d: order not deterministic", seed)
		}
		firstFamilies[anyOrder[0].Is6()]++
	}
	if len(firstFamilies) != 2 {
		t.Errorf("PreferAny: the first address was always of one family: %v", firstFamilies)
	}
}

func TestLookupHost(t *testing.T) {
	srv := mxtest.NewServer(t, `
mx.host.test. A 192.0.2.1
mx.host.test. AAAA 2001:db8::1
mxonly.host.test. MX 10 mx.host.test.
`)
	tests := []struct {
		name, host string
		ipv4, ipv6 bool
		want       Host
		class      error
		text       string
		dns        bool // whether DNS is asked
	}{
		{name: "bracketed IPv4", host: "[192.0.2.9]", want: Host{Name: "192.0.2.9", Pref: 0, Addrs: addrs("192.0.2.9")}},
		{name: "bare IPv4", host: "192.0.2.9", want: Host{Name: "192.0.2.9", Pref: 0, Addrs: addrs("192.0.2.9")}},
		{name: "IPv6 tag", host: "IPv6:2001:db8::9", want: Host{Name: "2001:db8::9", Pref: 0, Addrs: addrs("2001:db8::9")}},
		{name: "bracketed IPv6 tag", host: "[ipv6:2001:DB8::9]", want: Host{Name: "2001:db8::9", Pref: 0, Addrs: addrs("2001:db8::9")}},
		{name: "bare IPv6", host: "2001:db8::9", want: Host{Name: "2001:db8::9", Pref: 0, Addrs: addrs("2001:db8::9")}},
		{name: "IPv4 literal with IPv4 off", host: "[192.0.2.9]", ipv6: true, class: ErrNotFound,
			text: "unable to use address 192.0.2.9: IPv4 is not enabled"},
		{name: "name", host: "[MX.host.test]", ipv4: true, want: Host{Name: "mx.host.test", Pref: 0, Addrs: addrs("192.0.2.1")}, dns: true},
		{name: "no MX lookup", host: "mxonly.host.test", class: ErrNotFound, dns: true,
			text: "Host or domain name not found. Name service error for name=mxonly.host.test type=A: Host found but no data"},
		{name: "unknown name", host: "nx.host.test", class: ErrNotFound, dns: true,
			text: "Host or domain name not found. Name service error for name=nx.host.test type=A: Host not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Queries())
			r := newResolver(srv.Addr())
			if tc.ipv4 || tc.ipv6 {
				r.IPv4, r.IPv6 = tc.ipv4, tc.ipv6
			}
			got, err := r.LookupHost(context.Background(), tc.host)
			if tc.class != nil {
				checkErr(t, err, tc.class, tc.text)
			} else if err != nil {
				t.Fatalf("LookupHost: %v", err)
			} else if !equalHost(got, tc.want) {
				t.Errorf("LookupHost = %v, want %v", got, tc.want)
			}
			queries := srv.Queries()[before:]
			if asked := len(queries) > 0; asked != tc.dns {
				t.Errorf("DNS asked = %v (%v), want %v", asked, queries, tc.dns)
			}
			for _, q := range queries {
				if q.Type == dns.TypeMX {
					t.Errorf("LookupHost asked for MX: %v", q)
				}
			}
		})
	}
}

func TestHostBound(t *testing.T) {
	var zone strings.Builder
	const n = MaxHosts + 20
	for i := range n {
		fmt.Fprintf(&zone, "many.test. MX %d mx%d.many.test.\nmx%d.many.test. A 10.0.%d.%d\n", i, i, i, i/256, i%256)
	}
	srv := mxtest.NewServer(t, zone.String())
	r := newResolver(srv.Addr())
	r.IPv6 = false
	hosts, err := r.LookupMX(context.Background(), "many.test")
	if err != nil {
		t.Fatalf("LookupMX: %v", err)
	}
	if len(hosts) != MaxHosts {
		t.Fatalf("got %d hosts, want %d", len(hosts), MaxHosts)
	}
	for i, h := range hosts {
		if want := fmt.Sprintf("mx%d.many.test", i); h.Name != want || int(h.Pref) != i {
			t.Fatalf("host %d = %s pref %d, want %s pref %d", i, h.Name, h.Pref, want, i)
		}
	}
}

func TestCapAddrs(t *testing.T) {
	var big []netip.Addr
	for i := range MaxAddrs - 2 {
		big = append(big, netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i % 256)}))
	}
	hosts := capAddrs([]Host{
		{Name: "a", Addrs: big},
		{Name: "b", Addrs: addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")},
		{Name: "c", Addrs: addrs("192.0.2.4")},
	})
	if len(hosts) != 2 || len(hosts[0].Addrs) != MaxAddrs-2 || len(hosts[1].Addrs) != 2 {
		t.Errorf("capAddrs kept %d hosts: %v", len(hosts), hosts[1:])
	}
}

func TestChase(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("NewRR %q: %v", s, err)
		}
		return r
	}
	a := rr("c.test. A 192.0.2.1")
	loop := []dns.RR{rr("x.test. CNAME y.test."), rr("y.test. CNAME x.test.")}
	tests := []struct {
		name   string
		answer []dns.RR
		end    string
		n      int
		ok     bool
	}{
		{"direct", []dns.RR{rr("A.test. A 192.0.2.1")}, "a.test.", 1, true},
		{"chain", []dns.RR{rr("a.test. CNAME B.test."), rr("b.test. CNAME c.test."), a}, "c.test.", 1, true},
		{"chain without data", []dns.RR{rr("a.test. CNAME b.test.")}, "b.test.", 0, true},
		{"unrelated records ignored", []dns.RR{rr("z.test. A 192.0.2.9")}, "a.test.", 0, true},
		{"loop", append([]dns.RR{rr("a.test. CNAME x.test.")}, loop...), "", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			end, found, ok := chase(tc.answer, "a.test.", dns.TypeA)
			if ok != tc.ok || (ok && (end != tc.end || len(found) != tc.n)) {
				t.Errorf("chase = %q, %d records, %v; want %q, %d, %v", end, len(found), ok, tc.end, tc.n, tc.ok)
			}
		})
	}
}

func TestCNAMERequery(t *testing.T) {
	// The server's chain stops at a name it then answers directly: the
	// resolver asks again for the end of the chain.
	srv := mxtest.NewServer(t, `
start.test. CNAME hop1.test.
hop1.test.  CNAME hop2.test.
hop2.test.  A 192.0.2.1
`)
	r := newResolver(srv.Addr())
	r.IPv6 = false
	h, err := r.LookupHost(context.Background(), "start.test")
	if err != nil {
		t.Fatalf("LookupHost: %v", err)
	}
	if !slices.Equal(h.Addrs, addrs("192.0.2.1")) {
		t.Errorf("addresses = %v", h.Addrs)
	}
	srv.Set("hop2.test", dns.TypeA, "")
	srv.Add("hop2.test. CNAME hop1.test.") // now a loop
	_, err = r.LookupHost(context.Background(), "start.test")
	checkErr(t, err, ErrTemporary, "Host or domain name not found. Name service error for name=start.test type=A: Host not found, try again")
}

func TestErrorStatus(t *testing.T) {
	tests := []struct {
		err    *Error
		status string
		temp   bool
	}{
		{nullMXError("x.test"), "5.1.10", false},
		{nameServiceError(ErrNotFound, "x.test", "MX", textHostNotFound, nil), "5.4.4", false},
		{nameServiceError(ErrTemporary, "x.test", "MX", textTryAgain, errNoServers), "4.4.3", true},
	}
	for _, tc := range tests {
		if got := tc.err.Status(); got != tc.status {
			t.Errorf("%v: Status = %s, want %s", tc.err, got, tc.status)
		}
		if got := tc.err.Temporary(); got != tc.temp {
			t.Errorf("%v: Temporary = %v, want %v", tc.err, got, tc.temp)
		}
	}
}

func TestParseAddrPreference(t *testing.T) {
	for in, want := range map[string]AddrPreference{"any": PreferAny, "IPv6": PreferIPv6, " ipv4 ": PreferIPv4} {
		if got, err := ParseAddrPreference(in); err != nil || got != want {
			t.Errorf("ParseAddrPreference(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParseAddrPreference("ipv5"); err == nil {
		t.Error("ParseAddrPreference(ipv5) succeeded")
	}
}

// TestIgnoreMXLookupError: ignore_mx_lookup_error was an unknown name.
// With it, an MX query that gets SERVFAIL falls back to the domain's own
// address; without it the lookup fails for now, as RFC 5321 wants.
func TestIgnoreMXLookupError(t *testing.T) {
	srv := mxtest.NewServer(t, "mxfail.test. A 192.0.2.77\n")
	srv.SetTypeBehavior("mxfail.test", dns.TypeMX, mxtest.ServFail)
	r := newResolver(srv.Addr())
	if _, err := r.LookupMX(t.Context(), "mxfail.test"); err == nil || !err.(*Error).Temporary() {
		t.Fatalf("without the option: %v, want a temporary failure", err)
	}
	r.IgnoreMXLookupError = true
	hosts, err := r.LookupMX(t.Context(), "mxfail.test")
	want := []Host{{Name: "mxfail.test", Addrs: addrs("192.0.2.77"), Implicit: true}}
	if err != nil || !reflect.DeepEqual(hosts, want) {
		t.Errorf("with the option: %+v, %v; want %+v", hosts, err, want)
	}
}

// TestUTF8DomainNames: a UTF-8 recipient domain (an SMTPUTF8 message) was
// "Malformed domain name", a permanent failure: mail to user@bücher.test
// bounced. Its ASCII form (xn-- labels, IDNA2008) is now what DNS is
// asked for, or, with enable_idna2003_compatibility, the transitional
// form (ß as "ss"), as in Postfix.
func TestUTF8DomainNames(t *testing.T) {
	srv := mxtest.NewServer(t, `xn--bcher-kva.test. MX 10 mx.xn--bcher-kva.test.
mx.xn--bcher-kva.test. A 192.0.2.7
xn--strae-oqa.test. A 192.0.2.8
strasse.test. A 192.0.2.9
`)
	r := newResolver(srv.Addr())
	r.IPv6 = false
	for _, domain := range []string{"bücher.test", "BÜCHER.test."} {
		hosts, err := r.LookupMX(context.Background(), domain)
		if err != nil || len(hosts) != 1 || hosts[0].Name != "mx.xn--bcher-kva.test" || hosts[0].Addrs[0] != netip.MustParseAddr("192.0.2.7") {
			t.Errorf("LookupMX(%q) = %+v, %v", domain, hosts, err)
		}
	}
	h, err := r.LookupHost(context.Background(), "[straße.test]")
	if err != nil || h.Addrs[0] != netip.MustParseAddr("192.0.2.8") {
		t.Errorf("IDNA2008 LookupHost = %+v, %v; want xn--strae-oqa.test's 192.0.2.8", h, err)
	}
	r.IDNA2003 = true
	h, err = r.LookupHost(context.Background(), "straße.test")
	if err != nil || h.Addrs[0] != netip.MustParseAddr("192.0.2.9") {
		t.Errorf("IDNA2003 LookupHost = %+v, %v; want strasse.test's 192.0.2.9", h, err)
	}
	_, err = r.LookupMX(context.Background(), "b\xffcher.test")
	checkErr(t, err, ErrNotFound, `Host or domain name not found. Name service error for name="b\xffcher.test" type=MX: Malformed domain name`)
}
