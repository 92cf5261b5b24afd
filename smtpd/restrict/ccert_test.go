package restrict

import (
	"context"
	"testing"
)

// TestClientCertRestrictions: permit_tls_clientcerts,
// permit_tls_all_clientcerts and check_ccert_access were refused as
// unsupported.
func TestClientCertRestrictions(t *testing.T) {
	listed := &ClientCert{Fingerprint: "AA:BB:CC", PublicKeyFingerprint: "11:22:33"}
	byKey := &ClientCert{Fingerprint: "DD:EE:FF", PublicKeyFingerprint: "44:55:66"}
	trusted := &ClientCert{Fingerprint: "77:88:99", PublicKeyFingerprint: "00:00:01", Trusted: true}
	const denied = "554 5.7.1 <user@elsewhere.example>: Relay access denied"
	tests := []struct {
		conf string
		cert *ClientCert
		want string
	}{
		{"permit_tls_clientcerts", listed, ""},
		{"permit_tls_clientcerts", byKey, ""},
		{"permit_tls_clientcerts", trusted, denied},
		{"permit_tls_clientcerts", nil, denied},
		{"permit_tls_all_clientcerts", trusted, ""},
		{"permit_tls_all_clientcerts", listed, denied},
		{"check_ccert_access inline:{ AA:BB:CC=OK }", listed, ""},
		{"check_ccert_access inline:{ {44:55:66=REJECT revoked} }", byKey, "554 5.7.1 <DD:EE:FF>: Client certificate rejected: revoked"},
		{"check_ccert_access inline:{ AA:BB:CC=OK }", nil, denied},
	}
	for _, tt := range tests {
		conf := "relay_clientcerts = inline:{ aa:bb:cc=client-a, 44:55:66=client-b }\n" +
			"smtpd_relay_restrictions = " + tt.conf + ", reject_unauth_destination\n"
		c := newChecker(t, conf, newWorld())
		f := foreignFacts()
		f.Recipient, f.TLS, f.ClientCert = "user@elsewhere.example", true, tt.cert
		if got := replyOf(c.Check(context.Background(), Rcpt, f)); got != tt.want {
			t.Errorf("%s with %+v: reply %q, want %q", tt.conf, tt.cert, got, tt.want)
		}
	}
}
