package restrict

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestPermitInetInterfaces: "permit_inet_interfaces" was refused as
// unsupported; it permits clients whose address is one of
// inet_interfaces.
func TestPermitInetInterfaces(t *testing.T) {
	w := newWorld()
	deps := w.deps()
	deps.InetInterface = func(a netip.Addr) bool { return a == netip.MustParseAddr("192.0.2.1") }
	c, err := New(parseConf(t, "smtpd_relay_restrictions = permit_inet_interfaces, reject_unauth_destination\n"), deps)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tt := range []struct{ client, want string }{
		{"192.0.2.1", ""},
		{"::ffff:192.0.2.1", ""},
		{"203.0.113.5", "554 5.7.1 <user@elsewhere.example>: Relay access denied"},
	} {
		f := foreignFacts()
		f.ClientAddr, f.Recipient = netip.MustParseAddr(tt.client), "user@elsewhere.example"
		if got := replyOf(c.Check(context.Background(), Rcpt, f)); got != tt.want {
			t.Errorf("client %s: reply %q, want %q", tt.client, got, tt.want)
		}
	}
}

// TestSleepRestriction: "sleep 1" was refused as unsupported; it pauses,
// then the list goes on, and a session that ends cuts the pause short.
func TestSleepRestriction(t *testing.T) {
	c := newChecker(t, "smtpd_client_restrictions = sleep 1, reject\n", newWorld())
	start := time.Now()
	got := replyOf(c.Check(context.Background(), Rcpt, foreignFacts()))
	if got != "554 5.7.1 <mail.foreign.net[203.0.113.5]>: Client host rejected: Access denied" {
		t.Errorf("after sleep: reply %q, want the reject that follows", got)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("sleep 1 paused %v", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	c.Check(ctx, Rcpt, foreignFacts())
	if d := time.Since(start); d > 900*time.Millisecond { // under the 1 s it would sleep
		t.Errorf("a cancelled session still slept %v", d)
	}
	for _, bad := range []string{"sleep", "sleep x", "sleep -1", "sleep 301"} {
		_, err := New(parseConf(t, "smtpd_client_restrictions = "+bad+"\n"), newWorld().deps())
		if err == nil || !strings.Contains(err.Error(), `restriction "sleep"`) {
			t.Errorf("%q: err = %v, want one about sleep's argument", bad, err)
		}
	}
}
