package qmgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
)

// routerFor builds a router from main.cf text on top of a few settings
// every router test shares.
func routerFor(t *testing.T, mainCF string) *router {
	t.Helper()
	base := "myhostname = mx.example.com\nmyorigin = example.com\nmydestination = example.com, localhost\n"
	cfg, err := config.Parse("main.cf", strings.NewReader(base+mainCF))
	if err != nil {
		t.Fatalf("main.cf: %v", err)
	}
	r, err := newRouter(cfg, maps.Options{})
	if err != nil {
		t.Fatalf("newRouter: %v", err)
	}
	t.Cleanup(r.close)
	return r
}

type routeCase struct {
	addr      string
	transport string
	nexthop   string
}

func checkRoutes(t *testing.T, r *router, cases []routeCase) {
	t.Helper()
	for _, c := range cases {
		got, err := r.resolve(c.addr, "")
		if err != nil {
			t.Errorf("resolve(%q): %v", c.addr, err)
			continue
		}
		if want := (route{c.transport, c.nexthop}); got != want {
			t.Errorf("resolve(%q) = %+v, want %+v", c.addr, got, want)
		}
	}
}

func TestRouterTransportMaps(t *testing.T) {
	table := filepath.Join(t.TempDir(), "transport")
	src := `
special.example.com     smtp:[relay.special]:2525
.parent.example         relay:gw.parent
user@other.example      lmtp:unix:/run/dovecot/lmtp
emptytransport.example  :[backup.example]
emptynexthop.example    smtp:
bare.example            smtp
bounce.example          error:5.1.2 domain disabled
devnull.example         discard:silently
fwd@example.com         smtp:[hub.example]
loc@example.com         local:
`
	if err := os.WriteFile(table, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := routerFor(t, "transport_maps = texthash:"+table+"\n")
	checkRoutes(t, r, []routeCase{
		{"joe@example.com", "local", "mx.example.com"},
		{"joe@EXAMPLE.Com", "local", "mx.example.com"},
		{"joe@localhost", "local", "mx.example.com"},
		{"joe", "local", "mx.example.com"},
		{"joe@remote.org", "smtp", "remote.org"},
		{"joe@Remote.ORG", "smtp", "remote.org"},
		{"x@special.example.com", "smtp", "[relay.special]:2525"},
		{"x@sub.special.example.com", "smtp", "sub.special.example.com"},
		{"x@a.parent.example", "relay", "gw.parent"},
		{"x@a.b.parent.example", "relay", "gw.parent"},
		{"x@parent.example", "smtp", "parent.example"},
		{"user@other.example", "lmtp", "unix:/run/dovecot/lmtp"},
		{"someone@other.example", "smtp", "other.example"},
		{"x@emptytransport.example", "smtp", "[backup.example]"},
		{"x@emptynexthop.example", "smtp", "emptynexthop.example"},
		{"x@bare.example", "smtp", "bare.example"},
		{"x@bounce.example", "error", "5.1.2 domain disabled"},
		{"x@devnull.example", "discard", "silently"},
		{"fwd@example.com", "smtp", "[hub.example]"},
		{"loc@example.com", "local", "mx.example.com"},
	})
}

func TestRouterWildcardAndRelayhost(t *testing.T) {
	tests := []struct {
		name   string
		mainCF string
		cases  []routeCase
	}{
		{"inline wildcard", "transport_maps = inline:{ {*=smtp:[smarthost.example]:587}, example.org=: }\n", []routeCase{
			{"a@remote.org", "smtp", "[smarthost.example]:587"},
			{"a@example.com", "smtp", "[smarthost.example]:587"},
			{"a@example.org", "smtp", "example.org"},
		}},
		{"relayhost", "relayhost = [relay.isp.example]:587\n", []routeCase{
			{"a@remote.org", "smtp", "[relay.isp.example]:587"},
			{"a@example.com", "local", "mx.example.com"},
		}},
		{"relayhost with empty map nexthop", "relayhost = [relay.isp.example]\ntransport_maps = inline:{example.org=smtp:}\n", []routeCase{
			{"a@example.org", "smtp", "[relay.isp.example]"},
		}},
		{"default_transport nexthop beats relayhost", "relayhost = [relay.isp.example]\ndefault_transport = smtp:[own.example]\n", []routeCase{
			{"a@remote.org", "smtp", "[own.example]"},
		}},
		{"default_transport error", "default_transport = error:5.7.1 relaying disabled\n", []routeCase{
			{"a@remote.org", "error", "5.7.1 relaying disabled"},
			{"a@example.com", "local", "mx.example.com"},
		}},
		{"local_transport with nexthop", "local_transport = lmtp:unix:private/dovecot\n", []routeCase{
			{"a@example.com", "lmtp", "unix:private/dovecot"},
		}},
		{"address classes", "virtual_alias_domains = alias.example\nvirtual_mailbox_domains = inline:{ vbox.example=1 }\n" +
			"virtual_transport = lmtp:unix:private/dovecot-lmtp\nrelay_domains = relayed.example\nrelayhost = [smart.example]\n", []routeCase{
			{"a@alias.example", "error", "5.1.1 User unknown in virtual alias table"},
			{"a@vbox.example", "lmtp", "unix:private/dovecot-lmtp"},
			{"a@sub.vbox.example", "smtp", "[smart.example]"},
			// transport(5): the next hop of relay_transport comes from
			// it, sender_dependent_relayhost_maps, relayhost or the
			// domain; tern used the domain.
			{"a@relayed.example", "relay", "[smart.example]"},
			{"a@sub.relayed.example", "relay", "[smart.example]"},
			{"a@example.com", "local", "mx.example.com"},
			{"a@remote.org", "smtp", "[smart.example]"},
		}},
		{"relay_transport nexthop beats relayhost", "relay_domains = relayed.example\nrelay_transport = relay:[gw.example]\nrelayhost = [smart.example]\n", []routeCase{
			{"a@relayed.example", "relay", "[gw.example]"},
			{"a@remote.org", "smtp", "[smart.example]"},
		}},
		{"default virtual transport", "virtual_mailbox_domains = vbox.example\n", []routeCase{
			{"a@vbox.example", "virtual", "vbox.example"},
		}},
		{"transport_maps beat the class", "virtual_mailbox_domains = vbox.example\ntransport_maps = inline:{ vbox.example=smtp:[mx.vbox] }\n", []routeCase{
			{"a@vbox.example", "smtp", "[mx.vbox]"},
		}},
		{"relocated", "recipient_delimiter = +\nrelocated_maps = inline:{ {old@example.com=new@example.net}, {gone=gone@elsewhere.example}, {@moved.example=moved.example.net} }\n", []routeCase{
			{"old@example.com", "error", "5.1.6 User has moved to new@example.net"},
			{"old+tag@example.com", "error", "5.1.6 User has moved to new@example.net"},
			{"gone@example.com", "error", "5.1.6 User has moved to gone@elsewhere.example"},
			{"gone@remote.org", "smtp", "remote.org"},
			{"anyone@moved.example", "error", "5.1.6 User has moved to moved.example.net"},
			{"other@example.com", "local", "mx.example.com"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRoutes(t, routerFor(t, tt.mainCF), tt.cases)
		})
	}
}

func TestRouterLookupFailure(t *testing.T) {
	r := routerFor(t, "transport_maps = fail:broken\n")
	if rt, err := r.resolve("a@remote.org", ""); err == nil {
		t.Errorf("resolve with a failing table = %+v, want an error", rt)
	}
}

func TestRouterBadTables(t *testing.T) {
	for _, line := range []string{"transport_maps = nosuchtype:/x", "relocated_maps = nosuchtype:/x",
		"virtual_mailbox_domains = nosuchtype:/x", "relay_domains = /nonexistent/file"} {
		cfg, err := config.Parse("main.cf", strings.NewReader(line+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := newRouter(cfg, maps.Options{}); err == nil {
			t.Errorf("newRouter accepted %q", line)
		}
	}
}

func TestRouterDomainListLookupFailure(t *testing.T) {
	for _, line := range []string{"virtual_mailbox_domains = fail:x", "relocated_maps = fail:x", "mydestination = fail:x"} {
		r := routerFor(t, line+"\n")
		if rt, err := r.resolve("a@remote.org", ""); err == nil {
			t.Errorf("%s: resolve = %+v, want an error", line, rt)
		}
	}
}

func TestErrorResult(t *testing.T) {
	tests := []struct {
		nexthop string
		status  string
		dsn     string
		text    string
	}{
		{"", "bounce", "5.0.0", "mail delivery disabled"},
		{"5.1.2 domain disabled", "bounce", "5.1.2", "domain disabled"},
		{"4.3.2 try later", "defer", "4.3.2", "try later"},
		{"user unknown", "bounce", "5.0.0", "user unknown"},
		{"5.1.1", "bounce", "5.0.0", "5.1.1"},
	}
	for _, tt := range tests {
		got := errorResult(tt.nexthop)
		if got.Status.String() != tt.status || got.DSN != tt.dsn || got.Text != tt.text || got.Relay != "none" {
			t.Errorf("errorResult(%q) = %+v", tt.nexthop, got)
		}
	}
}

func TestWantsNotice(t *testing.T) {
	tests := []struct {
		notify, kind string
		want         bool
	}{
		{"", "FAILURE", true},
		{"", "DELAY", true},
		{"", "SUCCESS", false},
		{"NEVER", "FAILURE", false},
		{"SUCCESS,FAILURE", "FAILURE", true},
		{"success, delay", "DELAY", true},
		{"SUCCESS", "FAILURE", false},
	}
	for _, tt := range tests {
		if got := wantsNotice(tt.notify, tt.kind); got != tt.want {
			t.Errorf("wantsNotice(%q, %q) = %v", tt.notify, tt.kind, got)
		}
	}
}

// TestUnqualifiedRecipientKeepsOriginal pins the bug where "sendmail usera"
// logged no orig_to=<usera>, unlike Postfix: the original recipient was
// recorded after qualification.
func TestUnqualifiedRecipientKeepsOriginal(t *testing.T) {
	m := &Manager{settings: settings{myOrigin: "example.com", emptyAddressRecipient: "MAILER-DAEMON", keepOriginal: true}}
	env := &envelope.Envelope{Recipients: []envelope.Recipient{{Address: "usera"}, {Address: "b@example.org"}}}
	m.qualify(env)
	want := []envelope.Recipient{
		{Address: "usera@example.com", Original: "usera"},
		{Address: "b@example.org", Original: "b@example.org"},
	}
	for i, w := range want {
		if env.Recipients[i] != w {
			t.Errorf("recipient %d = %+v, want %+v", i, env.Recipients[i], w)
		}
	}
}

// TestRouterSenderDependentRelayhost: sender_dependent_relayhost_maps was
// an unknown parameter; it picks the relay and default classes' next hop
// by sender, before relayhost and after the transports' own next hops.
func TestRouterSenderDependentRelayhost(t *testing.T) {
	r := routerFor(t, "relayhost = [smart.example]\nrecipient_delimiter = +\nrelay_domains = relayed.example\n"+
		"sender_dependent_relayhost_maps = inline:{ alice@corp.example=[smtp.gmail.com]:587, @corp.example=[corp-relay]:25, bob@corp.example=DUNNO, <>=[bounces.example] }\n"+
		"transport_maps = inline:{ pinned.example=smtp:[pinned-mx], open.example=smtp: }\n")
	tests := []struct{ sender, rcpt, transport, nexthop string }{
		{"alice@corp.example", "x@remote.org", "smtp", "[smtp.gmail.com]:587"},
		{"alice+lists@corp.example", "x@remote.org", "smtp", "[smtp.gmail.com]:587"},
		{"carol@corp.example", "x@remote.org", "smtp", "[corp-relay]:25"},
		{"bob@corp.example", "x@remote.org", "smtp", "[smart.example]"},
		{"dave@other.example", "x@remote.org", "smtp", "[smart.example]"},
		{"", "x@remote.org", "smtp", "[bounces.example]"},
		{"carol@corp.example", "x@relayed.example", "relay", "[corp-relay]:25"},
		{"alice@corp.example", "x@example.com", "local", "mx.example.com"},
		{"alice@corp.example", "x@pinned.example", "smtp", "[pinned-mx]"},
		{"alice@corp.example", "x@open.example", "smtp", "[smtp.gmail.com]:587"},
	}
	for _, tt := range tests {
		got, err := r.resolve(tt.rcpt, tt.sender)
		if want := (route{tt.transport, tt.nexthop}); err != nil || got != want {
			t.Errorf("resolve(%q, sender %q) = %+v, %v; want %+v", tt.rcpt, tt.sender, got, err, want)
		}
	}
	broken := routerFor(t, "sender_dependent_relayhost_maps = fail:x\n")
	if rt, err := broken.resolve("x@remote.org", "a@b.example"); err == nil {
		t.Errorf("a failing sender_dependent_relayhost_maps gave %+v, want an error (defer)", rt)
	}
}

// TestRouterSenderDependentDefaultTransport: the parameter was unknown.
// It gives the default class's transport (and next hop) by sender, as on
// a host whose customers' mail leaves from their own IP addresses; relay
// domains, transport_maps and the local class are not affected, and a
// transport without a next hop takes the relayhost rules.
func TestRouterSenderDependentDefaultTransport(t *testing.T) {
	r := routerFor(t, "relayhost = [smart.example]\nrelay_domains = relayed.example\n"+
		"sender_dependent_default_transport_maps = inline:{ @shop.example=smtp-shop:, ceo@corp.example=smtp-vip:[vip-relay], @corp.example=DUNNO, <>=bounces: }\n"+
		"transport_maps = inline:{ pinned.example=smtp:[pinned-mx] }\n")
	tests := []struct{ sender, rcpt, transport, nexthop string }{
		{"orders@shop.example", "x@remote.org", "smtp-shop", "[smart.example]"},
		{"ceo@corp.example", "x@remote.org", "smtp-vip", "[vip-relay]"},
		{"staff@corp.example", "x@remote.org", "smtp", "[smart.example]"},
		{"", "x@remote.org", "bounces", "[smart.example]"},
		{"orders@shop.example", "x@relayed.example", "relay", "[smart.example]"},
		{"orders@shop.example", "x@pinned.example", "smtp", "[pinned-mx]"},
		{"orders@shop.example", "x@example.com", "local", "mx.example.com"},
	}
	for _, tt := range tests {
		got, err := r.resolve(tt.rcpt, tt.sender)
		if want := (route{tt.transport, tt.nexthop}); err != nil || got != want {
			t.Errorf("resolve(%q, sender %q) = %+v, %v; want %+v", tt.rcpt, tt.sender, got, err, want)
		}
	}
	broken := routerFor(t, "sender_dependent_default_transport_maps = fail:x\n")
	if rt, err := broken.resolve("x@remote.org", "a@b.example"); err == nil {
		t.Errorf("a failing table gave %+v, want an error (defer)", rt)
	}
}

// TestRouteMinUser: allow_min_user was an unknown name and a recipient
// such as "-oQ/tmp/x@example.com" went to its transport, where a pipe(8)
// or mailbox_command could take it for an option. As in Postfix's queue
// manager, it now goes to the error transport, a content filter or not,
// unless allow_min_user = yes.
func TestRouteMinUser(t *testing.T) {
	env := &envelope.Envelope{}
	filtered := &envelope.Envelope{Filter: "smtp:[127.0.0.1]:10024"}
	for _, tt := range []struct {
		conf, addr string
		env        *envelope.Envelope
		want       route
	}{
		{"", "-oQ/tmp/x@example.com", env, route{"error", badAddressSyntax}},
		{"", `"-x"@example.org`, env, route{"error", badAddressSyntax}},
		{"", "-x@example.org", filtered, route{"error", badAddressSyntax}},
		{"", "x-@example.org", env, route{"smtp", "example.org"}},
		{"allow_min_user = yes\n", "-x@example.org", env, route{"smtp", "example.org"}},
	} {
		r := routerFor(t, tt.conf)
		got, err := r.routeFor(tt.env, tt.addr)
		if err != nil || got != tt.want {
			t.Errorf("%q with %q: %+v, %v; want %+v", tt.addr, tt.conf, got, err, tt.want)
		}
	}
}

// TestFilterNexthop: default_filter_nexthop was an unknown name. A
// content filter that names no next hop goes to it, or, when it is
// empty, to the recipient's domain; one with a next hop keeps it.
func TestFilterNexthop(t *testing.T) {
	bare := &envelope.Envelope{Filter: "scan:"}
	named := &envelope.Envelope{Filter: "scan:[127.0.0.1]:10024"}
	for _, tt := range []struct {
		conf string
		env  *envelope.Envelope
		want route
	}{
		{"", bare, route{"scan", "example.org"}},
		{"default_filter_nexthop = [127.0.0.1]:10025\n", bare, route{"scan", "[127.0.0.1]:10025"}},
		{"default_filter_nexthop = [127.0.0.1]:10025\n", named, route{"scan", "[127.0.0.1]:10024"}},
	} {
		got, err := routerFor(t, tt.conf).routeFor(tt.env, "x@example.org")
		if err != nil || got != tt.want {
			t.Errorf("%q with filter %q: %+v, %v; want %+v", tt.conf, tt.env.Filter, got, err, tt.want)
		}
	}
}

// TestNoOriginalRecipient: enable_original_recipient was an unknown name.
// With no, recipients keep no original address (no orig_to= in the
// logs), as in Postfix.
func TestNoOriginalRecipient(t *testing.T) {
	m := &Manager{settings: settings{myOrigin: "example.com"}}
	env := &envelope.Envelope{Recipients: []envelope.Recipient{{Address: "usera"}, {Address: "b@example.org", Original: "b@example.org"}}}
	m.qualify(env)
	for _, r := range env.Recipients {
		if r.Original != "" {
			t.Errorf("%s kept original %q", r.Address, r.Original)
		}
	}
}
