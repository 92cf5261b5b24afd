package mx

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// TestNativeHostLookup: smtp_host_lookup was reported as having no
// effect. With native (the system's /etc/hosts and resolver) a host's
// addresses come from there, alone, first, or after a DNS failure; MX
// records still come from DNS.
func TestNativeHostLookup(t *testing.T) {
	srv := mxtest.NewServer(t, `
dnsonly.test.   A   127.0.0.9
both.test.      A   127.0.0.10
mx.test.        MX  10 hostsonly.test.
`)
	native := func(_ context.Context, host string) ([]netip.Addr, error) {
		switch host {
		case "hostsonly.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.7")}, nil
		case "both.test":
			return []netip.Addr{netip.MustParseAddr("127.0.0.11")}, nil
		}
		return nil, errors.New("no such host")
	}
	tests := []struct {
		name              string
		first, off        bool
		host, want, class string
	}{
		{"dns, native: DNS answers", false, false, "dnsonly.test", "127.0.0.9", ""},
		{"dns, native: DNS fails, native answers", false, false, "hostsonly.test", "127.0.0.7", ""},
		{"dns, native: DNS first", false, false, "both.test", "127.0.0.10", ""},
		{"native, dns: native first", true, false, "both.test", "127.0.0.11", ""},
		{"native, dns: native fails, DNS answers", true, false, "dnsonly.test", "127.0.0.9", ""},
		{"native alone", false, true, "hostsonly.test", "127.0.0.7", ""},
		{"native alone: no DNS", false, true, "dnsonly.test", "", "not found"},
	}
	for _, tt := range tests {
		r := newResolver(srv.Addr())
		r.Native, r.NativeFirst, r.DNSOff = native, tt.first, tt.off
		h, err := r.LookupHost(context.Background(), tt.host)
		switch {
		case tt.class != "" && !errors.Is(err, ErrNotFound):
			t.Errorf("%s: %v, want not found", tt.name, err)
		case tt.class == "" && (err != nil || len(h.Addrs) != 1 || h.Addrs[0].String() != tt.want):
			t.Errorf("%s: %+v, %v; want %s", tt.name, h, err, tt.want)
		}
	}
	r := newResolver(srv.Addr())
	r.Native, r.DNSOff = native, true
	hosts, err := r.LookupMX(context.Background(), "mx.test")
	if err != nil || len(hosts) != 1 || hosts[0].Addrs[0].String() != "127.0.0.7" {
		t.Errorf("MX from DNS, address from native: %+v, %v", hosts, err)
	}
}
