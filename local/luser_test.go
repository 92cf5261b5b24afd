package local

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// TestLuserRelay: luser_relay was reported as having no effect and mail
// for unknown local users bounced; it goes to the expanded address now,
// local or remote, and known users are not affected.
func TestLuserRelay(t *testing.T) {
	tests := []struct {
		relay, rcpt string
		check       func(t *testing.T, fx *fixture, r agent.Result)
	}{
		{"alice+$local", "nosuch+tag@example.com", func(t *testing.T, fx *fixture, r agent.Result) {
			expect(t, r, agent.OK, "2.0.0", "delivered to mailbox")
			if got := fx.read(fx.spool + "/alice"); !strings.Contains(got, "X-Original-To: nosuch+tag@example.com") {
				t.Errorf("alice's mbox: %q", got)
			}
			if logged := strings.Join(fx.log.lines, "\n"); !strings.Contains(logged, "to=<alice+nosuch+tag@example.com>, orig_to=<nosuch+tag@example.com>") {
				t.Errorf("no delivery to the expanded luser_relay in the log:\n%s", logged)
			}
		}},
		{"$user@catchall.example.net", "nosuch+tag@example.com", func(t *testing.T, fx *fixture, r agent.Result) {
			if len(fx.fwd.calls) != 1 || fx.fwd.calls[0].rcpts[0] != "nosuch@catchall.example.net" {
				t.Errorf("forwarded %+v, want nosuch@catchall.example.net", fx.fwd.calls)
			}
		}},
		{"$user@catchall.example.net", "bob@example.com", func(t *testing.T, fx *fixture, r agent.Result) {
			expect(t, r, agent.OK, "2.0.0", "delivered to mailbox")
			if len(fx.fwd.calls) != 0 {
				t.Errorf("a known user was relayed: %+v", fx.fwd.calls)
			}
		}},
	}
	for _, tt := range tests {
		fx := newFixture(t)
		fx.cfg.LuserRelay = tt.relay
		res := fx.deliver("s@remote.org", "Subject: x\n\nbody\n", tt.rcpt)
		tt.check(t, fx, res[0])
	}
	// A mailbox_transport takes unknown users first, as in Postfix.
	fx := newFixture(t)
	fx.cfg.LuserRelay, fx.cfg.MailboxTransport = "alice", "lmtp:unix:/run/lmtp"
	var got []string
	fx.cfg.Delegate = func(_ context.Context, transport, nexthop string, _ *agent.Request, rc envelope.Recipient) agent.Result {
		got = append(got, transport+" "+nexthop+" "+rc.Address)
		return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered via lmtp"}
	}
	res := fx.deliver("s@remote.org", "Subject: x\n\nbody\n", "nosuch@example.com")
	expect(t, res[0], agent.OK, "2.0.0", "delivered via lmtp")
	if len(got) != 1 || got[0] != "lmtp unix:/run/lmtp nosuch@example.com" {
		t.Errorf("delegated %q", got)
	}
}
