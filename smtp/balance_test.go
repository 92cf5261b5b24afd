package smtp

import (
	"net/netip"
	"strings"
	"testing"
)

// TestLimitTargets: smtp_balance_inet_protocols was unknown, and
// smtp_mx_address_limit cut the address list in order, so a destination
// with five IPv6 addresses first kept no IPv4 one, and mail to it failed
// wherever IPv6 was broken. With balancing each family keeps its share.
func TestLimitTargets(t *testing.T) {
	for _, tt := range []struct {
		addrs   string
		limit   int
		balance bool
		want    string
	}{
		{"6a 6b 6c 6d 6e 4a 4b", 5, true, "6a 6b 6c 4a 4b"},
		{"6a 6b 6c 6d 6e 4a 4b", 5, false, "6a 6b 6c 6d 6e"},
		{"4a 6a 4b 6b 4c 6c", 3, true, "4a 6a 4b"},
		{"6a 6b 6c 6d 4a", 4, true, "6a 6b 6c 4a"}, // IPv4's unused share goes to IPv6
		{"4a 4b 4c 4d", 2, true, "4a 4b"},
		{"6a 4a", 5, true, "6a 4a"},
		{"6a 6b 4a", 0, true, "6a 6b 4a"},
	} {
		var ts []target
		var ips []netip.Addr
		for i, name := range strings.Fields(tt.addrs) {
			ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)})
			if name[0] == '6' {
				ip = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i + 1)})
			}
			ts = append(ts, target{name: name})
			ips = append(ips, ip)
		}
		var got []string
		for _, t := range limitTargets(ts, ips, tt.limit, tt.balance) {
			got = append(got, t.name)
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%q, limit %d, balance %v: %q, want %q", tt.addrs, tt.limit, tt.balance, strings.Join(got, " "), tt.want)
		}
	}
}
