package peerlist

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

func TestMatch(t *testing.T) {
	file := filepath.Join(t.TempDir(), "peers")
	if err := os.WriteFile(file, []byte("# more peers\n198.51.100.7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		list   []string
		parent bool
		name   string
		addr   string
		want   bool
	}{
		{[]string{"mx.example.com"}, false, "mx.example.com", "192.0.2.1", true},
		{[]string{"mx.example.com"}, false, "MX.Example.COM.", "192.0.2.1", true},
		{[]string{"example.com"}, false, "mx.example.com", "192.0.2.1", false},
		{[]string{"example.com"}, true, "mx.example.com", "192.0.2.1", true},
		{[]string{".example.com"}, false, "mx.example.com", "192.0.2.1", true},
		{[]string{".example.com"}, false, "example.com", "192.0.2.1", false},
		{[]string{"192.0.2.0/24"}, false, "unknown", "192.0.2.9", true},
		{[]string{"[2001:db8::]/32"}, false, "", "2001:db8::1", true},
		{[]string{"!192.0.2.9", "192.0.2.0/24"}, false, "", "192.0.2.9", false},
		{[]string{file}, false, "", "198.51.100.7", true},
		{[]string{"inline:{ example.net=x }"}, true, "a.b.example.net", "203.0.113.1", true},
		{[]string{"inline:{ 203.0.113.1=x }"}, false, "", "203.0.113.1", true},
		{[]string{"unknown"}, false, "unknown", "203.0.113.1", false},
	}
	for _, tt := range tests {
		l, err := New("debug_peer_list", tt.list, tt.parent, maps.Options{})
		if err != nil {
			t.Fatalf("%v: %v", tt.list, err)
		}
		got, err := l.Match(tt.name, netip.MustParseAddr(tt.addr))
		if err != nil || got != tt.want {
			t.Errorf("%v parent=%v: Match(%q, %s) = %v, %v; want %v", tt.list, tt.parent, tt.name, tt.addr, got, err, tt.want)
		}
		l.Close()
	}
	if l, err := New("debug_peer_list", nil, false, maps.Options{}); l != nil || err != nil {
		t.Errorf("empty list: %v, %v", l, err)
	}
	if _, err := New("debug_peer_list", []string{"nosuchtype:x"}, false, maps.Options{}); err == nil {
		t.Error("a bad table was accepted")
	}
}

// FuzzPeerList: any list and peer parse and match without a panic.
func FuzzPeerList(f *testing.F) {
	f.Add("mx.example.com, .example.net, 192.0.2.0/24, ![2001:db8::]/32", "a.example.net", "192.0.2.1")
	f.Add("!!unknown, 10.0.0.1", "unknown", "::1")
	f.Fuzz(func(t *testing.T, list, name, addr string) {
		elems := strings.Split(list, ",")
		for _, e := range elems {
			if strings.Contains(e, ":") && !strings.ContainsAny(e, "[.") || strings.HasPrefix(strings.TrimLeft(strings.TrimSpace(e), "!"), "/") {
				return // tables and files: not what this target is about
			}
		}
		l, err := New("debug_peer_list", elems, true, maps.Options{})
		if err != nil {
			return
		}
		defer l.Close()
		a, _ := netip.ParseAddr(addr)
		_, _ = l.Match(name, a)
	})
}
