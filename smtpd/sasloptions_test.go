package smtpd

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/sasl"
)

// fakeSASL offers mechanisms with every kind of property; an exchange it
// starts always fails, which is enough to tell an offered mechanism from
// one smtpd refuses itself.
type fakeSASL struct{}

func (fakeSASL) Mechanisms(context.Context, bool) ([]sasl.Mechanism, error) {
	return []sasl.Mechanism{
		{Name: "PLAIN", Props: sasl.PropPlaintext},
		{Name: "LOGIN", Props: sasl.PropPlaintext},
		{Name: "ANONYMOUS", Props: sasl.PropAnonymous},
		{Name: "CRAM-MD5", Props: sasl.PropDictionary | sasl.PropActive},
	}, nil
}

func (fakeSASL) Start(context.Context, string, []byte, sasl.Info) (sasl.Exchange, error) {
	return nil, sasl.ErrAuthFailed
}

func (fakeSASL) Close() error { return nil }

// TestSASLSecurityOptions: smtpd_sasl_security_options was accepted but
// had no effect, so "noplaintext" still offered PLAIN and LOGIN. The
// options now decide what EHLO announces and what AUTH accepts.
func TestSASLSecurityOptions(t *testing.T) {
	tests := []struct {
		options  string // smtpd_sasl_security_options; "" = the default
		announce string
		refused  string // a mechanism AUTH must refuse with 504 5.5.4
	}{
		{"", "AUTH PLAIN LOGIN CRAM-MD5", "ANONYMOUS"},
		{"smtpd_sasl_security_options = noanonymous, noplaintext", "AUTH CRAM-MD5", "PLAIN"},
		{"smtpd_sasl_security_options = noanonymous, nodictionary", "AUTH PLAIN LOGIN", "CRAM-MD5"},
		{"smtpd_sasl_security_options =", "AUTH PLAIN LOGIN ANONYMOUS CRAM-MD5", "SCRAM-SHA-1"},
		// Without TLS the _tls_ options do not apply.
		{"smtpd_sasl_tls_security_options = noanonymous, noplaintext", "AUTH PLAIN LOGIN CRAM-MD5", "ANONYMOUS"},
	}
	for _, tt := range tests {
		t.Run(tt.options, func(t *testing.T) {
			ts := startServerWith(t, "smtpd_tls_auth_only = no\n"+tt.options, func(s *Server) { s.sasl = fakeSASL{} })
			c := ts.dial(t)
			r := c.cmd("EHLO client.example", "250-mx.example.tst")
			if !strings.Contains(r, "250-"+tt.announce+"\r\n") {
				t.Errorf("EHLO does not announce %q:\n%s", tt.announce, r)
			}
			c.cmd("AUTH "+strings.ToLower(tt.refused), "504 5.5.4")
			offered := strings.Fields(tt.announce)[1]
			c.cmd("AUTH "+offered+" AGFsaWNlAHB3", "535 5.7.8")
			c.cmd("QUIT", "221")
		})
	}
}

// TestSASLExceptionsNetworks: smtpd_sasl_exceptions_networks was
// reported as having no effect; its clients are offered no AUTH.
func TestSASLExceptionsNetworks(t *testing.T) {
	for _, tt := range []struct {
		networks string
		offered  bool
	}{{"127.0.0.0/8", false}, {"192.0.2.0/24", true}} {
		ts := startServerWith(t, "smtpd_tls_auth_only = no\nsmtpd_sasl_exceptions_networks = "+tt.networks,
			func(s *Server) { s.sasl = fakeSASL{} })
		c := ts.dial(t)
		r := c.cmd("EHLO client.example", "250")
		if got := strings.Contains(r, "AUTH "); got != tt.offered {
			t.Errorf("exceptions %s: AUTH offered %v, want %v:\n%s", tt.networks, got, tt.offered, r)
		}
		if !tt.offered {
			c.cmd("AUTH PLAIN AGFsaWNlAHB3", "503 5.5.1 Error: authentication not enabled")
		}
	}
}

// challengeSASL's exchanges ask for a response and never end.
type challengeSASL struct{ fakeSASL }

func (challengeSASL) Start(context.Context, string, []byte, sasl.Info) (sasl.Exchange, error) {
	return challenger{}, nil
}

type challenger struct{}

func (challenger) Next(context.Context, []byte) ([]byte, bool, string, error) {
	return []byte("more"), false, "", nil
}

// TestSASLResponseLimit: smtpd_sasl_response_limit was an unknown name;
// the limit on a response to a challenge was fixed at 12288 bytes and a
// longer one got "Error: line too long". It is now the parameter, with
// Postfix's reply.
func TestSASLResponseLimit(t *testing.T) {
	ts := startServerWith(t, "smtpd_tls_auth_only = no\nsmtpd_sasl_response_limit = 1000",
		func(s *Server) { s.sasl = challengeSASL{} })
	c := ts.dial(t)
	c.cmd("EHLO client.example", "250")
	c.cmd("AUTH PLAIN", "334 ")
	c.cmd(strings.Repeat("A", 900), "334 ")
	c.cmd(strings.Repeat("A", 1100), "500 5.5.6 SASL response limit exceeded")
	c.cmd("NOOP", "250")
}
