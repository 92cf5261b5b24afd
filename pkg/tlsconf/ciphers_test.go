package tlsconf

import (
	"crypto/tls"
	"slices"
	"testing"
)

// mozillaIntermediate is the cipher list that Mozilla's configuration
// generator writes for Postfix (tls_medium_cipherlist).
const mozillaIntermediate = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:" +
	"ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:" +
	"DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384"

func TestParseCipherList(t *testing.T) {
	suites, skipped, ok := ParseCipherList(mozillaIntermediate)
	if !ok || len(suites) != 6 || suites[0] != tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 ||
		!slices.Equal(skipped, []string{"DHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES256-GCM-SHA384"}) {
		t.Errorf("Mozilla's list: %v %q %v", suites, skipped, ok)
	}
	for _, list := range []string{
		"aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", // Postfix's default
		"EECDH+AESGCM:EDH+AESGCM",                 // keywords
		"ECDHE-RSA-AES128-GCM-SHA256:!aNULL",      // a name and an operator
		"DHE-RSA-AES128-GCM-SHA256",               // nothing Go offers
		"",
	} {
		if _, _, ok := ParseCipherList(list); ok {
			t.Errorf("ParseCipherList(%q) ok", list)
		}
	}
}

func TestExcludeCiphers(t *testing.T) {
	tests := []struct {
		list string
		ok   bool
		gone []uint16 // suites that must be removed from Go's defaults
		kept []uint16 // suites that must stay
	}{
		// The usual hardened list: suite names Go never offers are
		// excluded already.
		{"aNULL, eNULL, EXPORT, DES, RC4, MD5, PSK, aECDH, EDH-DSS-DES-CBC3-SHA, EDH-RSA-DES-CBC3-SHA, KRB5-DES-CBC3-SHA", true, nil,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"aNULL, eNULL, EXPORT, DES, RC4, MD5, PSK, aECDH, 3DES, SEED, IDEA, CAMELLIA", true, nil,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}},
		{"SHA1", true, []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384}},
		{"!AES128 ECDHE-RSA-CHACHA20-POLY1305", true,
			[]uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
			[]uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}},
		{"kEECDH", false, nil, nil},
	}
	for _, tt := range tests {
		got, ok := ExcludeCiphers(nil, tt.list)
		if ok != tt.ok {
			t.Errorf("ExcludeCiphers(%q) ok = %v, want %v", tt.list, ok, tt.ok)
			continue
		}
		for _, id := range tt.gone {
			if slices.Contains(got, id) {
				t.Errorf("ExcludeCiphers(%q) kept %s", tt.list, tls.CipherSuiteName(id))
			}
		}
		for _, id := range tt.kept {
			if !slices.Contains(got, id) {
				t.Errorf("ExcludeCiphers(%q) removed %s", tt.list, tls.CipherSuiteName(id))
			}
		}
	}
	if got := Suites("aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH", "aNULL, RC4"); got != nil {
		t.Errorf("defaults with exclusions of what Go never offers: %v, want nil (Go's own)", got)
	}
	if got := Suites(mozillaIntermediate, "AES128"); len(got) != 4 {
		t.Errorf("Mozilla's list less AES128: %d suites, want 4", len(got))
	}
}

func TestUsableValues(t *testing.T) {
	for _, tt := range []struct {
		f    func(string) bool
		v    string
		want bool
	}{
		{SSLOptionsUsable, "NO_COMPRESSION, NO_RENEGOTIATION", true},
		{SSLOptionsUsable, "NO_TICKET", false},
		{SSLOptionsUsable, "0x40000000", false},
		{GradeUsable, "high", true},
		{GradeUsable, " Medium ", true},
		{GradeUsable, "low", false},
		{GradeUsable, "export", false},
	} {
		if got := tt.f(tt.v); got != tt.want {
			t.Errorf("%q: %v, want %v", tt.v, got, tt.want)
		}
	}
}

func TestCurves(t *testing.T) {
	got, ok := Curves("X25519 X448 prime256v1 secp521r1 secp384r1")
	if !ok || !slices.Equal(got, []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP521, tls.CurveP384}) {
		t.Errorf("Postfix's default list: %v %v", got, ok)
	}
	if _, ok := Curves("brainpoolP256r1"); ok {
		t.Error("an unknown curve was taken")
	}
	if _, ok := Curves("X448"); ok {
		t.Error("a list of only X448 was taken")
	}
	for _, tt := range []struct {
		grade   string
		autoSet bool
		want    []tls.CurveID
		ok      bool
	}{
		{"auto", false, nil, true}, // Go's own, post-quantum included
		{"auto", true, []tls.CurveID{tls.X25519, tls.CurveP256}, true},
		{"strong", false, []tls.CurveID{tls.CurveP256}, true},
		{"ultra", false, []tls.CurveID{tls.CurveP384}, true},
		{"none", false, nil, false},
	} {
		got, ok := ServerCurves(tt.grade, "X25519 prime256v1", tt.autoSet, "prime256v1", "secp384r1")
		if ok != tt.ok || !slices.Equal(got, tt.want) {
			t.Errorf("ServerCurves(%s, set %v) = %v %v, want %v %v", tt.grade, tt.autoSet, got, ok, tt.want, tt.ok)
		}
	}
}
