package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// TestProbe: an address verification probe (reject_unverified_*)
// delivers nothing and says what a delivery would do: aliases, system
// users and names a fallback takes are deliverable, other names bounce.
func TestProbe(t *testing.T) {
	tests := []struct {
		rcpt   string
		setup  func(fx *fixture)
		status agent.Status
	}{
		{"bob@example.com", nil, agent.OK},
		{"bob+tag@example.com", nil, agent.OK},
		{"team@example.com", func(fx *fixture) { fx.cfg.Aliases = memAliases{"team": "carol@remote.org"} }, agent.OK},
		{"nosuch@example.com", nil, agent.Bounce},
		{"nosuch@example.com", func(fx *fixture) { fx.cfg.FallbackTransport = "relay:[old.example]" }, agent.OK},
		{"someone@remote.org", nil, agent.OK},
	}
	for _, tt := range tests {
		fx := newFixture(t)
		if tt.setup != nil {
			tt.setup(fx)
		}
		req := &agent.Request{Env: &envelope.Envelope{ID: "PROBE", Sender: "double-bounce@example.com", Probe: true},
			Transport: "local", Body: agent.NewMemBody(nil),
			Recipients: []envelope.Recipient{{Address: tt.rcpt, Original: tt.rcpt}}}
		res := New(fx.cfg).Deliver(context.Background(), req)
		if res[0].Status != tt.status {
			t.Errorf("%s: %+v, want status %v", tt.rcpt, res[0], tt.status)
		}
		if _, err := os.Stat(filepath.Join(fx.spool, "bob")); err == nil {
			t.Errorf("%s: a probe wrote a mailbox", tt.rcpt)
		}
		if len(fx.fwd.calls) != 0 {
			t.Errorf("%s: a probe forwarded mail", tt.rcpt)
		}
	}
}
