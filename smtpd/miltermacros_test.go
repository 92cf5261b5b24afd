package smtpd

import (
	"testing"

	"github.com/d--j/go-milter"
)

// TestMilterMacroDaemonName: {daemon_name} was always "tern", so
// OpenDKIM's "MTA ORIGINATING" could not tell the submission service's
// mail (-o milter_macro_daemon_name=ORIGINATING) from the rest. It is
// milter_macro_daemon_name now ($myhostname by default, as in Postfix),
// and {v} milter_macro_v.
func TestMilterMacroDaemonName(t *testing.T) {
	for _, tt := range []struct{ extra, want string }{
		{"", "mx.example.tst"},
		{"milter_macro_daemon_name = ORIGINATING", "ORIGINATING"},
	} {
		var srv *Server
		startServerWith(t, tt.extra, func(s *Server) { srv = s })
		s := &session{srv: srv, tx: &transaction{sender: "a@example.org"}, macros: milter.NewMacroBag()}
		s.refreshMacros()
		m := s.macros
		if got := m.Get(milter.MacroDaemonName); got != tt.want {
			t.Errorf("%q: {daemon_name} = %q, want %q", tt.extra, got, tt.want)
		}
		if got := m.Get("v"); got != "tern" {
			t.Errorf("{v} = %q", got)
		}
	}
}
