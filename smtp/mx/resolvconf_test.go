package mx

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseResolvConf(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		servers  []string
		timeout  time.Duration
		attempts int
		warnings int
	}{
		{name: "empty", in: ""},
		{name: "nameservers", in: "nameserver 192.0.2.53\nnameserver 198.51.100.53\n",
			servers: []string{"192.0.2.53:53", "198.51.100.53:53"}},
		{name: "IPv6 and zone", in: "nameserver 2001:db8::53\nnameserver fe80::1%eth0\n",
			servers: []string{"[2001:db8::53]:53", "[fe80::1%eth0]:53"}},
		{name: "comments and blanks", in: "# generated\n; old style\n\n   \nnameserver 192.0.2.1 # trailing words ignored\n#nameserver 192.0.2.2\n",
			servers: []string{"192.0.2.1:53"}},
		{name: "leading space and CRLF", in: "  nameserver\t192.0.2.1\r\nnameserver 192.0.2.2\r\n",
			servers: []string{"192.0.2.1:53", "192.0.2.2:53"}},
		{name: "at most three", in: "nameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\nnameserver 192.0.2.4\n",
			servers: []string{"192.0.2.1:53", "192.0.2.2:53", "192.0.2.3:53"}, warnings: 1},
		{name: "bad nameservers", in: "nameserver\nnameserver dns.example\nnameserver 192.0.2.1:53\n", warnings: 3},
		{name: "options", in: "options rotate timeout:2 attempts:3 ndots:1\n", timeout: 2 * time.Second, attempts: 3},
		{name: "later options win", in: "options timeout:2\noptions timeout:4 attempts:1\n", timeout: 4 * time.Second, attempts: 1},
		{name: "caps", in: "options timeout:99 attempts:99\n", timeout: 30 * time.Second, attempts: 5},
		{name: "bad options", in: "options timeout:0 attempts:x timeout: attempts:-1 timeout\n", warnings: 4},
		{name: "other keywords", in: "search example.com\ndomain example.com\nsortlist 192.0.2.0/24\nnameserver 192.0.2.1\n",
			servers: []string{"192.0.2.1:53"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ParseResolvConf([]byte(tc.in))
			if !slices.Equal(c.Servers, tc.servers) {
				t.Errorf("Servers = %q, want %q", c.Servers, tc.servers)
			}
			if c.Timeout != tc.timeout || c.Attempts != tc.attempts {
				t.Errorf("Timeout, Attempts = %v, %d; want %v, %d", c.Timeout, c.Attempts, tc.timeout, tc.attempts)
			}
			if len(c.Warnings) != tc.warnings {
				t.Errorf("Warnings = %q, want %d", c.Warnings, tc.warnings)
			}
		})
	}
}

func TestParseServer(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.1", "192.0.2.1:53"},
		{"192.0.2.1:5353", "192.0.2.1:5353"},
		{"::1", "[::1]:53"},
		{"[::1]", "[::1]:53"},
		{"[::1]:5353", "[::1]:5353"},
		{"dns.example", ""},
		{"192.0.2.1:0", ""},
		{"192.0.2.1:99999", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := ParseServer(tc.in)
		if (err != nil) != (tc.want == "") || got != tc.want {
			t.Errorf("ParseServer(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNewResolver(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver 192.0.2.53\nnameserver ::1\noptions timeout:3 attempts:4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		file     string
		override []string
		servers  []string
		timeout  time.Duration
		attempts int
		err      string
	}{
		{name: "file", file: conf, servers: []string{"192.0.2.53:53", "[::1]:53"}, timeout: 3 * time.Second, attempts: 4},
		{name: "override keeps options", file: conf, override: []string{"127.0.0.1:5300", " [::1]:5301 ", "::2"},
			servers: []string{"127.0.0.1:5300", "[::1]:5301", "[::2]:53"}, timeout: 3 * time.Second, attempts: 4},
		{name: "missing file", file: filepath.Join(dir, "none"), servers: []string{"127.0.0.1:53"}},
		{name: "no file", servers: []string{"127.0.0.1:53"}},
		{name: "unreadable", file: dir, err: dir},
		{name: "bad override", file: conf, override: []string{"dns.example"}, err: `"dns.example"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewResolver(tc.file, tc.override, true, false)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("NewResolver error = %v, want one naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewResolver: %v", err)
			}
			if !slices.Equal(r.Servers, tc.servers) || r.Timeout != tc.timeout || r.Attempts != tc.attempts {
				t.Errorf("got %q %v %d, want %q %v %d", r.Servers, r.Timeout, r.Attempts, tc.servers, tc.timeout, tc.attempts)
			}
			if !r.IPv4 || r.IPv6 {
				t.Errorf("IPv4, IPv6 = %v, %v; want true, false", r.IPv4, r.IPv6)
			}
		})
	}
}

func FuzzParseResolvConf(f *testing.F) {
	f.Add([]byte("nameserver 192.0.2.1\nnameserver 2001:db8::1\noptions timeout:2 attempts:3\n"))
	f.Add([]byte("# comment\n; comment\nsearch a b\nnameserver fe80::1%eth0\noptions timeout:999\n"))
	f.Add([]byte("nameserver\nnameserver x\noptions attempts:\n\x00\xff"))
	f.Add([]byte("nameserver 1.2.3.4\nnameserver 1.2.3.5\nnameserver 1.2.3.6\nnameserver 1.2.3.7\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := ParseResolvConf(data)
		if len(c.Servers) > maxResolvServers {
			t.Fatalf("%d servers", len(c.Servers))
		}
		for _, s := range c.Servers {
			ap, err := netip.ParseAddrPort(s)
			if err != nil || ap.Port() != defaultDNSPort {
				t.Fatalf("server %q: %v", s, err)
			}
			if again, err := ParseServer(s); err != nil || again != s {
				t.Fatalf("ParseServer(%q) = %q, %v", s, again, err)
			}
		}
		if c.Timeout < 0 || c.Timeout > maxResolvTimeout || c.Attempts < 0 || c.Attempts > maxResolvAttempt {
			t.Fatalf("timeout %v attempts %d out of range", c.Timeout, c.Attempts)
		}
	})
}
