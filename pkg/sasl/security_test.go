package sasl

import (
	"reflect"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	mechs := []Mechanism{
		{"PLAIN", PropPlaintext},
		{"LOGIN", PropPlaintext},
		{"ANONYMOUS", PropAnonymous},
		{"CRAM-MD5", PropDictionary | PropActive},
		{"SCRAM-SHA-256", PropMutualAuth},
		{"GSSAPI", PropMutualAuth | PropForwardSecrecy},
	}
	tests := []struct {
		options string
		want    string
	}{
		{"", "PLAIN LOGIN ANONYMOUS CRAM-MD5 SCRAM-SHA-256 GSSAPI"},
		{"noanonymous", "PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256 GSSAPI"},
		{"noanonymous noplaintext", "CRAM-MD5 SCRAM-SHA-256 GSSAPI"},
		{"NoPlainText", "ANONYMOUS CRAM-MD5 SCRAM-SHA-256 GSSAPI"},
		{"noanonymous nodictionary", "PLAIN LOGIN SCRAM-SHA-256 GSSAPI"},
		{"noactive", "PLAIN LOGIN ANONYMOUS SCRAM-SHA-256 GSSAPI"},
		{"mutual_auth", "SCRAM-SHA-256 GSSAPI"},
		{"mutual_auth forward_secrecy", "GSSAPI"},
	}
	for _, tt := range tests {
		p, err := ParsePolicy(strings.Fields(tt.options))
		if err != nil {
			t.Errorf("ParsePolicy(%q): %v", tt.options, err)
			continue
		}
		if got := strings.Join(p.Allowed(mechs), " "); got != tt.want {
			t.Errorf("%q allows %q, want %q", tt.options, got, tt.want)
		}
	}
	if _, err := ParsePolicy([]string{"noanonymous", "noclear"}); err == nil || !strings.Contains(err.Error(), `"noclear"`) {
		t.Errorf("ParsePolicy(noclear) = %v, want an error naming it", err)
	}
	if got := (Policy{}).Allowed(nil); !reflect.DeepEqual(got, []string(nil)) {
		t.Errorf("Allowed(nil) = %q", got)
	}
}
