package restrict

import (
	"context"
	"net/netip"
	"testing"
)

func TestPermitMXBackup(t *testing.T) {
	servers := map[string][]ServerHost{
		"backup.example/MX":   {{Name: "mx1.elsewhere", Pref: 10, Addrs: []string{"198.51.100.1"}}, {Name: "mx2.us", Pref: 20, Addrs: []string{"192.0.2.1"}}},
		"primary.example/MX":  {{Name: "mx.us", Pref: 10, Addrs: []string{"192.0.2.1"}}, {Name: "mx2.elsewhere", Pref: 20, Addrs: []string{"198.51.100.2"}}},
		"notmx.example/MX":    {{Name: "mx.elsewhere", Pref: 10, Addrs: []string{"198.51.100.3"}}},
		"implicit.example/MX": {{Name: "implicit.example", Addrs: []string{"192.0.2.1"}, Implicit: true}},
		"outside.example/MX":  {{Name: "mx1.far", Pref: 5, Addrs: []string{"203.0.113.9"}}, {Name: "mx2.us", Pref: 20, Addrs: []string{"192.0.2.1"}}},
		"broken.example/MX":   nil,
	}
	tests := []struct {
		rcpt, extra, want string
	}{
		{rcpt: "a@backup.example"},
		{rcpt: "a@implicit.example"},
		{rcpt: "user@example.com"}, // a local domain: an authorized destination
		{rcpt: "a@primary.example", want: "554 5.7.1 <a@primary.example>: Relay access denied"},
		{rcpt: "a@notmx.example", want: "554 5.7.1 <a@notmx.example>: Relay access denied"},
		{rcpt: "a@broken.example", want: "450 4.4.4 <a@broken.example>: Recipient address rejected: Unable to look up mail exchanger information"},
		// With permit_mx_backup_networks the primary must be inside.
		{rcpt: "a@backup.example", extra: "permit_mx_backup_networks = 198.51.100.0/24\n"},
		{rcpt: "a@outside.example", extra: "permit_mx_backup_networks = 198.51.100.0/24\n", want: "554 5.7.1 <a@outside.example>: Relay access denied"},
	}
	for _, tt := range tests {
		w := newWorld()
		w.servers = servers
		deps := w.deps()
		deps.OwnAddr = func(a netip.Addr) bool { return a == netip.MustParseAddr("192.0.2.1") }
		if tt.extra != "" {
			n := netip.MustParsePrefix("198.51.100.0/24")
			deps.MXBackupNetworks = func(a netip.Addr) (bool, error) { return n.Contains(a), nil }
		}
		c, err := New(parseConf(t, tt.extra+"smtpd_relay_restrictions = permit_mynetworks, permit_mx_backup, reject_unauth_destination\nsmtpd_recipient_restrictions = permit\n"), deps)
		if err != nil {
			t.Fatal(err)
		}
		f := foreignFacts()
		f.Recipient = tt.rcpt
		if got := replyOf(c.Check(context.Background(), Rcpt, f)); got != tt.want {
			t.Errorf("%s: reply %q, want %q", tt.rcpt, got, tt.want)
		}
		c.Close()
	}
}
