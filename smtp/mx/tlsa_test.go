package mx

import (
	"context"
	"errors"
	"testing"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

const dnssecZone = `
signed.test.          MX 10 mx.signed.test.
mx.signed.test.       A  192.0.2.1
_25._tcp.mx.signed.test. TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
_25._tcp.mx.signed.test. TLSA 1 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
insecuremx.test.      MX 10 mx.signed.test.
insecureaddr.test.    MX 10 mx.insecureaddr.test.
mx.insecureaddr.test. A  192.0.2.2
implicit.test.        A  192.0.2.3
bogus.test.           MX 10 mx.signed.test.
_25._tcp.bogus.test.  TLSA 3 1 1 00
`

// TestDNSSECSecureHosts pins which hosts count as DNSSEC-validated: all of
// the MX lookup and the address lookups must have had the AD bit.
func TestDNSSECSecureHosts(t *testing.T) {
	srv := mxtest.NewServer(t, dnssecZone)
	srv.SetInsecure("insecuremx.test", true)
	srv.SetInsecure("mx.insecureaddr.test", true)
	tests := []struct {
		domain string
		dnssec bool
		secure bool
	}{
		{"signed.test", true, true},
		{"signed.test", false, false}, // AD is not trusted unless asked for
		{"insecuremx.test", true, false},
		{"insecureaddr.test", true, false},
		{"implicit.test", true, true},
	}
	for _, tt := range tests {
		r := newResolver(srv.Addr())
		r.DNSSEC = tt.dnssec
		hosts, err := r.LookupMX(context.Background(), tt.domain)
		if err != nil {
			t.Fatalf("LookupMX(%s): %v", tt.domain, err)
		}
		if hosts[0].Secure != tt.secure {
			t.Errorf("LookupMX(%s) with DNSSEC %v: Secure = %v, want %v", tt.domain, tt.dnssec, hosts[0].Secure, tt.secure)
		}
	}
}

func TestLookupTLSA(t *testing.T) {
	srv := mxtest.NewServer(t, dnssecZone)
	srv.SetBehavior("_25._tcp.bogus.test", mxtest.ServFail)
	srv.SetInsecure("_25._tcp.mx.insecureaddr.test", true)
	r := newResolver(srv.Addr())
	r.DNSSEC = true
	ctx := context.Background()

	got, err := r.LookupTLSA(ctx, "mx.signed.test", 25)
	if err != nil || !got.Secure || len(got.Records) != 2 || got.Records[0].Usage != 3 || !got.Records[0].Usable() || got.Records[1].Usable() {
		t.Errorf("LookupTLSA(mx.signed.test) = %+v, %v", got, err)
	}
	if got, err := r.LookupTLSA(ctx, "mx.signed.test", 587); err != nil || !got.Secure || len(got.Records) != 0 {
		t.Errorf("LookupTLSA(port 587) = %+v, %v; want secure, no records", got, err)
	}
	if got, err := r.LookupTLSA(ctx, "mx.insecureaddr.test", 25); err != nil || got.Secure {
		t.Errorf("LookupTLSA(insecure) = %+v, %v; want not secure", got, err)
	}
	_, err = r.LookupTLSA(ctx, "bogus.test", 25)
	if !errors.Is(err, ErrTemporary) {
		t.Errorf("LookupTLSA(SERVFAIL) error = %v, want temporary", err)
	}
}
