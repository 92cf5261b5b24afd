package restrict

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
)

// recMap wraps a table and records the keys looked up.
type recMap struct {
	maps.Map
	mu   *sync.Mutex
	keys *[]string
}

func (r recMap) Lookup(key string) (string, bool, error) {
	r.mu.Lock()
	*r.keys = append(*r.keys, key)
	r.mu.Unlock()
	return r.Map.Lookup(key)
}

// world is the fake outside world of the tests.
type world struct {
	local, relay, virtual, alias map[string]bool
	known                        map[string]bool
	moved                        map[string]string   // relocated_maps
	owners                       map[string][]string // smtpd_sender_login_maps; "err" fails
	policy                       func(service string, attrs [][2]string) (string, error)
	policySvcs                   []PolicyService   // the servers asked, with their settings
	dns                          map[string]string // domain -> "ok", "temp", "err"; missing = not found
	verify                       map[string]string // address -> Verify* status, or "err"
	// lists holds DNS list records: name -> "a1 a2|txt", or "temp" for a
	// failed lookup; queried records the names asked.
	lists   map[string]string
	queried []string
	// servers holds the hosts of "domain/MX", "domain/NS" and "domain/A";
	// a nil entry is a lookup failure.
	servers  map[string][]ServerHost
	mynet    netip.Prefix
	localErr bool
	knownErr bool
	mu       sync.Mutex
	keys     []string
	logs     []string
}

func newWorld() *world {
	return &world{
		local:   set("example.com", "localhost", "[192.0.2.1]"),
		relay:   set("relay.example"),
		virtual: set("virt.example", "alias.example"),
		alias:   set("alias.example"),
		known:   set("user@example.com", "user%foreign.net@example.com", "v@virt.example", "a@alias.example", "r@relay.example", "user@[192.0.2.1]"),
		dns:     map[string]string{"foreign.net": "ok", "mail.foreign.net": "ok", "temp.example": "temp", "err.example": "err"},
		moved:   map[string]string{"old@example.com": "new@example.net", "gone@virt.example": "a street address"},
		mynet:   netip.MustParsePrefix("10.0.0.0/8"),
		owners:  map[string][]string{"alice@example.com": {"alice"}, "team@example.com": {"alice", "Bob"}, "broken@example.com": {"err"}},
	}
}

func set(items ...string) map[string]bool {
	m := map[string]bool{}
	for _, i := range items {
		m[i] = true
	}
	return m
}

func (w *world) deps() Deps {
	lookup := func(m map[string]bool) func(string) (bool, error) {
		return func(d string) (bool, error) { return m[d], nil }
	}
	return Deps{
		OpenMap: func(spec string) (maps.Map, error) {
			m, err := maps.Open(spec, maps.Options{})
			if err != nil {
				return nil, err
			}
			return recMap{Map: m, mu: &w.mu, keys: &w.keys}, nil
		},
		LocalDomain: func(d string) (bool, error) {
			if w.localErr {
				return false, errors.New("local lookup broken")
			}
			return w.local[d], nil
		},
		RelayDomain:        lookup(w.relay),
		VirtualDomain:      lookup(w.virtual),
		VirtualAliasDomain: lookup(w.alias),
		KnownRecipient: func(_ context.Context, addr string) (bool, error) {
			if w.knownErr {
				return false, errors.New("recipient table broken")
			}
			return w.known[strings.ToLower(addr)], nil
		},
		Relocated: func(_ context.Context, addr string) (string, bool, error) {
			v, ok := w.moved[strings.ToLower(addr)]
			return v, ok, nil
		},
		DomainResolves: func(_ context.Context, d string) (bool, bool, error) {
			switch w.dns[d] {
			case "ok":
				return true, false, nil
			case "temp":
				return false, true, nil
			case "err":
				return false, false, errors.New("resolver broken")
			}
			return false, false, nil
		},
		MyNetworks: func(a netip.Addr) (bool, error) { return w.mynet.Contains(a), nil },
		PolicyQuery: func(_ context.Context, svc PolicyService, attrs [][2]string) (string, error) {
			w.mu.Lock()
			w.policySvcs = append(w.policySvcs, svc)
			w.mu.Unlock()
			if w.policy == nil {
				return "DUNNO", nil
			}
			return w.policy(svc.Addr, attrs)
		},
		SenderOwners: func(_ context.Context, sender string) ([]string, bool, error) {
			o, ok := w.owners[strings.ToLower(sender)]
			if ok && o[0] == "err" {
				return nil, false, errors.New("login table broken")
			}
			return o, ok, nil
		},
		Verify: func(_ context.Context, addr string) (string, string, error) {
			switch st := w.verify[strings.ToLower(addr)]; st {
			case "err":
				return "", "", errors.New("verify service down")
			case "":
				return VerifyUnknown, "Address verification in progress", nil
			default:
				return st, "host mx.example.com said: " + st, nil
			}
		},
		DNSList: func(_ context.Context, name string) ([]netip.Addr, string, error) {
			w.mu.Lock()
			w.queried = append(w.queried, name)
			w.mu.Unlock()
			rec := w.lists[name]
			if rec == "temp" {
				return nil, "", errors.New("DNS list timed out")
			}
			a, txt, _ := strings.Cut(rec, "|")
			var addrs []netip.Addr
			for _, f := range strings.Fields(a) {
				addrs = append(addrs, netip.MustParseAddr(f))
			}
			return addrs, txt, nil
		},
		ServerHosts: func(_ context.Context, domain, rrtype string) ([]ServerHost, error) {
			hosts, ok := w.servers[domain+"/"+rrtype]
			if ok && hosts == nil {
				return nil, errors.New("DNS timed out")
			}
			return hosts, nil
		},
		Logf: func(format string, args ...any) {
			w.mu.Lock()
			w.logs = append(w.logs, fmt.Sprintf(format, args...))
			w.mu.Unlock()
		},
	}
}

// parseConf builds a Config from main.cf lines.
func parseConf(t testing.TB, conf string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("main.cf", strings.NewReader(conf))
	if err != nil {
		t.Fatalf("config %q: %v", conf, err)
	}
	return cfg
}

func newChecker(t testing.TB, conf string, w *world) *Checker {
	t.Helper()
	c, err := New(parseConf(t, conf), w.deps())
	if err != nil {
		t.Fatalf("New(%q): %v", conf, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// foreignFacts is an unauthenticated client outside mynetworks.
func foreignFacts() Facts {
	return Facts{
		ClientAddr: netip.MustParseAddr("203.0.113.5"), ClientName: "mail.foreign.net",
		ClientPort: 40000, Helo: "mail.foreign.net", Sender: "s@foreign.net",
		Recipient: "user@example.com", Protocol: "ESMTP",
	}
}

// replyOf renders a result for comparisons: "" when the stage passes.
func replyOf(r Result) string {
	if r.Reply.IsZero() {
		return ""
	}
	return r.Reply.String()
}
