package smtp

import (
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

func TestCheckSettings(t *testing.T) {
	tests := []struct {
		mainCF string
		lmtp   bool
		err    string
	}{
		{"", false, ""},
		{"smtp_tls_wrappermode = yes\nsmtp_tls_security_level = encrypt\n", false, ""},
		{"smtp_tls_wrappermode = yes\nsmtp_tls_security_level = none\n", false, "smtp_tls_wrappermode = yes needs smtp_tls_security_level = encrypt"},
		{"smtp_tls_wrappermode = yes\nsmtp_tls_security_level = none\n", true, ""}, // lmtp does not use it
		{"smtp_tls_protocols = >=TLSv9\n", false, "smtp_tls_protocols: unknown protocol"},
		{"smtp_tls_mandatory_protocols = !TLSv7\n", false, "smtp_tls_mandatory_protocols: unknown protocol"},
	}
	for _, tt := range tests {
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		err = check(cfg, t.TempDir(), tt.lmtp)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%q (lmtp %v): %v", tt.mainCF, tt.lmtp, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q: error %v, want %q", tt.mainCF, err, tt.err)
		}
	}
}
