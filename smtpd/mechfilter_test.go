package smtpd

import (
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

// TestMechanismFilter: smtpd_sasl_mechanism_filter was an unknown name,
// so a Dovecot that offers EXTERNAL had it announced, which smtpd cannot
// serve. Postfix's default keeps it back; names, exclusions and tables
// pick the rest.
func TestMechanismFilter(t *testing.T) {
	offered := []string{"PLAIN", "LOGIN", "EXTERNAL", "CRAM-MD5"}
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"!external", "static:rest"}, "PLAIN LOGIN CRAM-MD5"},
		{[]string{"plain", "login"}, "PLAIN LOGIN"},
		{[]string{"!cram-md5", "static:all"}, "PLAIN LOGIN EXTERNAL"},
		{[]string{"inline:{ plain=yes }"}, "PLAIN"},
		{nil, "PLAIN LOGIN EXTERNAL CRAM-MD5"},
	} {
		f, err := parseMechanismFilter(tt.words, maps.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(f.filter(offered), " "); got != tt.want {
			t.Errorf("%q: %s, want %s", tt.words, got, tt.want)
		}
	}
	if _, err := parseMechanismFilter([]string{"nosuchtype:x"}, maps.Options{}); err == nil {
		t.Error("a bad table was accepted")
	}
}
