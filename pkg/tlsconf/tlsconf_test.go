package tlsconf

import (
	"crypto/tls"
	"testing"
)

func TestMinVersion(t *testing.T) {
	tests := []struct {
		list string
		want uint16
		bad  bool
	}{
		{"", tls.VersionTLS10, false},
		{">=TLSv1", tls.VersionTLS10, false},
		{">=TLSv1.2", tls.VersionTLS12, false},
		{"!SSLv2, !SSLv3", tls.VersionTLS10, false},
		{"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", tls.VersionTLS12, false},
		{"!SSLv2:!SSLv3:!TLSv1", tls.VersionTLS11, false},
		{"TLSv1.2 TLSv1.3", tls.VersionTLS10, false},
		{"!TLSv1.3", tls.VersionTLS10, false},
		{">=TLSv9", 0, true},
		{"!TLSv7", 0, true},
		{"bogus", 0, true},
	}
	for _, tt := range tests {
		got, err := MinVersion("smtpd_tls_protocols", tt.list)
		if (err != nil) != tt.bad || (!tt.bad && got != tt.want) {
			t.Errorf("MinVersion(%q) = %#x, %v; want %#x (error %v)", tt.list, got, err, tt.want, tt.bad)
		}
	}
}

func TestNames(t *testing.T) {
	if Name(tls.VersionTLS13) != "TLSv1.3" || Name(0x9999) != "TLS" {
		t.Error("Name misnames versions")
	}
	if v, ok := Version("tlsv1.1"); !ok || v != tls.VersionTLS11 {
		t.Error("Version does not fold case")
	}
}

// TestSummary: smtpd's Received header used to say 256/256 bits for
// TLS_AES_128_GCM_SHA256, taking the "256" of SHA256 for the key size.
func TestSummary(t *testing.T) {
	for _, tt := range []struct {
		st   tls.ConnectionState
		want string
	}{
		{tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_256_GCM_SHA384}, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"},
		{tls.ConnectionState{Version: tls.VersionTLS13, CipherSuite: tls.TLS_AES_128_GCM_SHA256}, "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)"},
		{tls.ConnectionState{Version: tls.VersionTLS12, CipherSuite: tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, "TLSv1.2 with cipher TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 (256/256 bits)"},
	} {
		if got := Summary(&tt.st); got != tt.want {
			t.Errorf("Summary = %q, want %q", got, tt.want)
		}
	}
}
