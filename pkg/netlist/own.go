package netlist

import (
	"net"
	"net/netip"
	"strings"
)

// OwnAddrs returns this host's addresses as inet_interfaces and
// proxy_interfaces name them: addresses as written ("[::1]" too), "all"
// for every interface address, "loopback-only" for 127.0.0.1 and ::1.
// Host names are not resolved. Addresses are unmapped.
func OwnAddrs(lists ...[]string) map[netip.Addr]bool {
	set := map[netip.Addr]bool{}
	for _, list := range lists {
		for _, w := range list {
			switch strings.ToLower(w) {
			case "all":
				addrs, err := net.InterfaceAddrs()
				if err != nil {
					continue
				}
				for _, a := range addrs {
					if p, err := netip.ParsePrefix(a.String()); err == nil {
						set[p.Addr().Unmap()] = true
					}
				}
			case "loopback-only":
				set[netip.MustParseAddr("127.0.0.1")], set[netip.IPv6Loopback()] = true, true
			default:
				if ip, err := netip.ParseAddr(strings.Trim(w, "[]")); err == nil {
					set[ip.Unmap()] = true
				}
			}
		}
	}
	return set
}
