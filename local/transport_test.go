package local

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
)

// failingMap is a table whose lookups fail.
type failingMap struct{}

func (failingMap) Lookup(string) (string, bool, error) { return "", false, errors.New("server down") }
func (failingMap) Name() string                        { return "fail:test" }
func (failingMap) Close() error                        { return nil }

// TestPerUserTransports: mailbox_transport_maps, mailbox_command_maps,
// fallback_transport and fallback_transport_maps were warned about as
// having no effect. They are looked up by login name, as in Postfix:
// known users' mailboxes go to their mapped transport or command,
// unknown names to the mapped or global fallback transport (after the
// mailbox transports, before luser_relay), and a failing table defers.
func TestPerUserTransports(t *testing.T) {
	inline := func(entries string) []maps.Map {
		m, err := maps.Open("inline:{ "+entries+" }", maps.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return []maps.Map{m}
	}
	tests := []struct {
		name      string
		rcpt      string
		setup     func(fx *fixture)
		delegated string // "transport nexthop address"; "" for none
		status    agent.Status
		text      string
	}{
		{name: "mailbox_transport_maps for a known user", rcpt: "bob+x@example.com",
			setup:     func(fx *fixture) { fx.cfg.MailboxTransportMaps = inline("bob=lmtp:unix:private/dovecot-lmtp") },
			delegated: "lmtp unix:private/dovecot-lmtp bob+x@example.com", status: agent.OK},
		{name: "mailbox_transport_maps miss: local mailbox", rcpt: "alice@example.com",
			setup:  func(fx *fixture) { fx.cfg.MailboxTransportMaps = inline("bob=lmtp:unix:private/dovecot-lmtp") },
			status: agent.OK, text: "delivered to mailbox"},
		{name: "map wins over mailbox_transport", rcpt: "bob@example.com",
			setup: func(fx *fixture) {
				fx.cfg.MailboxTransport = "dovecot"
				fx.cfg.MailboxTransportMaps = inline("bob=special:[mx.example]")
			},
			delegated: "special [mx.example] bob@example.com", status: agent.OK},
		{name: "mailbox_command_maps", rcpt: "bob@example.com",
			setup: func(fx *fixture) {
				fx.cfg.MailboxCommand = "false"
				fx.cfg.MailboxCommandMaps = inline(`{bob = cat > "$HOME/mapped"}`)
			},
			status: agent.OK, text: `delivered to command: cat > "$HOME/mapped"`},
		{name: "fallback_transport for an unknown name", rcpt: "nosuch@example.com",
			setup:     func(fx *fixture) { fx.cfg.FallbackTransport = "relay:[old.example]"; fx.cfg.LuserRelay = "alice" },
			delegated: "relay [old.example] nosuch@example.com", status: agent.OK},
		{name: "fallback_transport_maps before fallback_transport", rcpt: "nosuch@example.com",
			setup: func(fx *fixture) {
				fx.cfg.FallbackTransport = "relay:[old.example]"
				fx.cfg.FallbackTransportMaps = inline("nosuch=lmtp:inet:127.0.0.1:24")
			},
			delegated: "lmtp inet:127.0.0.1:24 nosuch@example.com", status: agent.OK},
		{name: "mailbox transport before fallback for an unknown name", rcpt: "nosuch@example.com",
			setup: func(fx *fixture) {
				fx.cfg.FallbackTransport = "relay:[old.example]"
				fx.cfg.MailboxTransportMaps = inline("nosuch=dovecot")
			},
			delegated: "dovecot  nosuch@example.com", status: agent.OK},
		{name: "fallback does not take known users", rcpt: "alice@example.com",
			setup:  func(fx *fixture) { fx.cfg.FallbackTransport = "relay:[old.example]" },
			status: agent.OK, text: "delivered to mailbox"},
		{name: "unknown name without a fallback bounces", rcpt: "nosuch@example.com",
			setup:  func(fx *fixture) { fx.cfg.FallbackTransportMaps = inline("other=relay") },
			status: agent.Bounce, text: "unknown user"},
		{name: "failing table defers", rcpt: "bob@example.com",
			setup:  func(fx *fixture) { fx.cfg.MailboxTransportMaps = []maps.Map{failingMap{}} },
			status: agent.Defer, text: "table lookup failure"},
		{name: "failing fallback table defers", rcpt: "nosuch@example.com",
			setup:  func(fx *fixture) { fx.cfg.FallbackTransportMaps = []maps.Map{failingMap{}} },
			status: agent.Defer, text: "table lookup failure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			var got []string
			fx.cfg.Delegate = func(_ context.Context, transport, nexthop string, _ *agent.Request, rc envelope.Recipient) agent.Result {
				got = append(got, transport+" "+nexthop+" "+rc.Address)
				return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered by " + transport}
			}
			tt.setup(fx)
			res := fx.deliver("s@remote.org", "Subject: x\n\nbody\n", tt.rcpt)
			if res[0].Status != tt.status || !strings.Contains(res[0].Text, tt.text) {
				t.Errorf("result %+v, want status %v with %q", res[0], tt.status, tt.text)
			}
			if want := tt.delegated; (want == "") != (len(got) == 0) || want != "" && got[0] != want {
				t.Errorf("delegated %q, want %q", got, want)
			}
			if tt.name == "mailbox_command_maps" && !strings.Contains(fx.read(filepath.Join(fx.home("bob"), "mapped")), "body") {
				t.Errorf("the mapped command did not get the message")
			}
		})
	}
}
