package smtpd

import (
	"net/netip"
	"testing"
)

// TestSmtpdMilterMaps: smtpd_milter_maps was an unknown name. A client's
// address now picks its milters: DISABLE for none, a list in
// smtpd_milters' syntax, or, when the table has nothing, smtpd_milters.
func TestSmtpdMilterMaps(t *testing.T) {
	var srv *Server
	startServerWith(t, "smtpd_milters = inet:127.0.0.1:1\n"+
		"smtpd_milter_maps = inline:{ 192.0.2.1=DISABLE, 192.0.2.2=inet:127.0.0.1:2, 192.0.2.3=nonsense }",
		func(s *Server) { srv = s })
	if got := srv.miltersFor(netip.MustParseAddr("192.0.2.1")); got != nil {
		t.Errorf("DISABLE gave %d milters", len(got))
	}
	own := srv.miltersFor(netip.MustParseAddr("192.0.2.2"))
	if len(own) != 1 || own[0] == srv.milters[0] {
		t.Errorf("the table's list was not used: %v", own)
	}
	if again := srv.miltersFor(netip.MustParseAddr("192.0.2.2")); len(again) != 1 || again[0] != own[0] {
		t.Error("the table's list was opened again, not kept")
	}
	for _, a := range []string{"192.0.2.3", "198.51.100.1"} {
		if got := srv.miltersFor(netip.MustParseAddr(a)); len(got) != 1 || got[0] != srv.milters[0] {
			t.Errorf("%s: %v, want smtpd_milters", a, got)
		}
	}
}
