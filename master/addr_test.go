package master

import (
	"reflect"
	"testing"
)

func TestServicePort(t *testing.T) {
	tests := []struct {
		name string
		port int
		err  bool
	}{
		{"25", 25, false},
		{"0", 0, false},
		{"65535", 65535, false},
		{"65536", 0, true},
		{"-1", 0, true},
		{"smtp", 25, false},
		{"submission", 587, false},
		{"smtps", 465, false},
		{"submissions", 465, false},
		{"no-such-service-xyz", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		p, err := servicePort(tt.name)
		if (err != nil) != tt.err || p != tt.port {
			t.Errorf("servicePort(%q) = %d, %v; want %d, error %v", tt.name, p, err, tt.port, tt.err)
		}
	}
}

func TestParseProtocols(t *testing.T) {
	tests := []struct {
		in   []string
		want protocols
		err  bool
	}{
		{nil, protocols{true, true}, false},
		{[]string{"all"}, protocols{true, true}, false},
		{[]string{"ipv4"}, protocols{true, false}, false},
		{[]string{"IPv6"}, protocols{false, true}, false},
		{[]string{"ipv4", "ipv6"}, protocols{true, true}, false},
		{[]string{"ipx"}, protocols{}, true},
	}
	for _, tt := range tests {
		got, err := parseProtocols(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseProtocols(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestInetSockets(t *testing.T) {
	both, v4, v6 := protocols{true, true}, protocols{true, false}, protocols{false, true}
	type addr struct {
		network, address string
		optional         bool
	}
	tests := []struct {
		name  string
		itfs  []string
		proto protocols
		want  []addr
		err   bool
	}{
		{"smtp", []string{"all"}, both, []addr{{"tcp", ":25", false}}, false},
		{"smtp", nil, both, []addr{{"tcp", ":25", false}}, false},
		{"submission", []string{"all"}, v4, []addr{{"tcp4", "0.0.0.0:587", false}}, false},
		{"smtps", []string{"all"}, v6, []addr{{"tcp6", "[::]:465", false}}, false},
		{"2525", []string{"loopback-only"}, both, []addr{{"tcp4", "127.0.0.1:2525", false}, {"tcp6", "[::1]:2525", true}}, false},
		{"2525", []string{"loopback-only"}, v4, []addr{{"tcp4", "127.0.0.1:2525", false}}, false},
		{"2525", []string{"loopback-only"}, v6, []addr{{"tcp6", "[::1]:2525", false}}, false},
		{"smtp", []string{"192.0.2.1", "[2001:db8::1]", "192.0.2.1"}, both,
			[]addr{{"tcp", "192.0.2.1:25", false}, {"tcp", "[2001:db8::1]:25", false}}, false},
		{"127.0.0.1:25", []string{"all"}, both, []addr{{"tcp", "127.0.0.1:25", false}}, false},
		{"[::1]:smtp", []string{"all"}, both, []addr{{"tcp", "[::1]:25", false}}, false},
		{"mail.example.com:2525", []string{"all"}, both, []addr{{"tcp", "mail.example.com:2525", false}}, false},
		{":2525", []string{"loopback-only"}, v4, []addr{{"tcp4", "127.0.0.1:2525", false}}, false},
		{"::1:25", nil, both, nil, true},
		{"nosuchservice-xyz", nil, both, nil, true},
		{"127.0.0.1:99999", nil, both, nil, true},
		{"smtp", nil, protocols{}, nil, true},
	}
	for _, tt := range tests {
		socks, err := inetSockets(tt.name, tt.itfs, tt.proto)
		if (err != nil) != tt.err {
			t.Errorf("inetSockets(%q, %q): err %v, want error %v", tt.name, tt.itfs, err, tt.err)
			continue
		}
		var got []addr
		for _, s := range socks {
			if s.Service != tt.name || s.Type != "inet" {
				t.Errorf("inetSockets(%q): bad spec %+v", tt.name, s)
			}
			got = append(got, addr{s.Network, s.Address, s.Optional})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("inetSockets(%q, %q) = %+v, want %+v", tt.name, tt.itfs, got, tt.want)
		}
	}
}
