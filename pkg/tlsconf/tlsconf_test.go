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
