package smtp

import "testing"

func TestParseNexthop(t *testing.T) {
	tests := []struct {
		hop  string
		lmtp bool
		want destination
		err  bool
	}{
		{"example.com", false, destination{network: "tcp", host: "example.com", port: 25, mx: true}, false},
		{"Example.COM.", false, destination{network: "tcp", host: "example.com", port: 25, mx: true}, false},
		{"example.com:2525", false, destination{network: "tcp", host: "example.com", port: 2525, mx: true}, false},
		{"[mx.example.com]", false, destination{network: "tcp", host: "mx.example.com", port: 25}, false},
		{"[192.0.2.1]:587", false, destination{network: "tcp", host: "192.0.2.1", port: 587}, false},
		{"[ipv6:2001:db8::1]:25", false, destination{network: "tcp", host: "2001:db8::1", port: 25}, false},
		{"[relay.example]:submission", false, destination{network: "tcp", host: "relay.example", port: 587}, false},
		{"unix:private/dovecot-lmtp", true, destination{network: "unix", path: "/q/private/dovecot-lmtp"}, false},
		{"unix:/run/dovecot/lmtp", true, destination{network: "unix", path: "/run/dovecot/lmtp"}, false},
		{"inet:127.0.0.1:24", true, destination{network: "tcp", host: "127.0.0.1", port: 24}, false},
		{"mail.example.com", true, destination{network: "tcp", host: "mail.example.com", port: 25}, false},
		// An empty port keeps the default, bracketed or not; FuzzParseNexthop
		// found "0:" giving port 0 (testdata/fuzz).
		{"relay.example:", false, destination{network: "tcp", host: "relay.example", port: 25, mx: true}, false},
		{"[relay.example]:", false, destination{network: "tcp", host: "relay.example", port: 25}, false},
		{"unix:/x", false, destination{}, true},
		{"[oops", false, destination{}, true},
		{"[a]b", false, destination{}, true},
		{"host:99999", false, destination{}, true},
		{"", false, destination{}, true},
		{"[]", false, destination{}, true},
	}
	for _, tt := range tests {
		got, err := parseNexthop(tt.hop, tt.lmtp, 25, "/q")
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseNexthop(%q, lmtp=%v) = %+v, %v; want %+v (error %v)", tt.hop, tt.lmtp, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseNexthop(f *testing.F) {
	for _, s := range []string{"example.com", "[192.0.2.1]:25", "unix:private/x", "inet:h:24", "[ipv6:::1]"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, hop string, lmtp bool) {
		d, err := parseNexthop(hop, lmtp, 25, "/q")
		if err != nil {
			return
		}
		if d.network == "tcp" && (d.host == "" || d.port <= 0 || d.port > 65535) {
			t.Fatalf("parseNexthop(%q) = %+v", hop, d)
		}
		if d.network == "unix" && d.path == "" {
			t.Fatalf("parseNexthop(%q) = %+v", hop, d)
		}
	})
}
