package master

import (
	"reflect"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

// TestPostscreenServedBySmtpd: Debian's master.cf with postscreen enabled
// left port 25 unserved ("unsupported command postscreen"). smtpd now
// serves the postscreen entry's address with the pass entry's settings,
// and tern_postscreen = yes and the postscreen entry's -o postscreen_*
// settings, for postscreen's tests.
func TestPostscreenServedBySmtpd(t *testing.T) {
	const f = "/etc/tern/master.cf"
	screen := svc(1, "smtp", "inet", false, "postscreen")
	screen.MaxProc = 1
	pass := svc(2, "smtpd", "pass", true, "smtpd")
	pass.Overrides = [][2]string{{"smtpd_tls_security_level", "may"}}
	dnsblog := svc(3, "dnsblog", "unix", true, "dnsblog")
	tlsproxy := svc(4, "tlsproxy", "unix", true, "tlsproxy")
	otherPass := svc(5, "other", "pass", true, "smtpd")
	named := svc(6, "2525", "inet", false, "postscreen")
	named.Overrides = [][2]string{{"smtpd_service_name", "other"}, {"postscreen_greet_action", "enforce"}, {"smtpd_banner", "x"}}
	screenOn := [2]string{"tern_postscreen", "yes"}
	lonely := svc(7, "2626", "inet", false, "postscreen")
	lonely.Overrides = [][2]string{{"smtpd_service_name", "missing"}}
	env := planEnv{QueueDir: "/q", Interfaces: []string{"127.0.0.1"}, Protocols: protocols{true, false}}

	tests := []struct {
		name      string
		services  []config.Service
		env       planEnv
		wantProcs []procSpec
		wantWarns []string
	}{
		{"debian", []config.Service{screen, pass, dnsblog, tlsproxy}, env,
			[]procSpec{{Daemon: "smtpd", Service: "smtpd", Unpriv: true, MaxProc: 100, Overrides: append(pass.Overrides, screenOn), File: f, Line: 2,
				Sockets: []sockSpec{{Service: "smtp", Type: "inet", Network: "tcp", Address: "127.0.0.1:25"}}}},
			nil},
		{"pass entry first", []config.Service{pass, screen}, env,
			[]procSpec{{Daemon: "smtpd", Service: "smtpd", Unpriv: true, MaxProc: 100, Overrides: append(pass.Overrides, screenOn), File: f, Line: 2,
				Sockets: []sockSpec{{Service: "smtp", Type: "inet", Network: "tcp", Address: "127.0.0.1:25"}}}},
			nil},
		{"smtpd_service_name override", []config.Service{named, otherPass, pass}, env,
			[]procSpec{{Daemon: "smtpd", Service: "other", Unpriv: true, MaxProc: 100, File: f, Line: 5,
				Overrides: [][2]string{screenOn, {"postscreen_greet_action", "enforce"}},
				Sockets:   []sockSpec{{Service: "2525", Type: "inet", Network: "tcp", Address: "127.0.0.1:2525"}}}},
			[]string{
				f + ":6: service 2525: postscreen is served by smtpd with the settings of service other (" + f + ":5); -o smtpd_banner ignored",
				f + ":2: service smtpd: service type pass is not supported; service not started",
			}},
		{"main.cf smtpd_service_name", []config.Service{screen, otherPass},
			planEnv{QueueDir: "/q", Interfaces: []string{"127.0.0.1"}, Protocols: protocols{true, false}, SmtpdServiceName: "other"},
			[]procSpec{{Daemon: "smtpd", Service: "other", Unpriv: true, MaxProc: 100, File: f, Line: 5, Overrides: [][2]string{screenOn},
				Sockets: []sockSpec{{Service: "smtp", Type: "inet", Network: "tcp", Address: "127.0.0.1:25"}}}},
			nil},
		{"no pass entry", []config.Service{lonely}, env, nil,
			[]string{f + ":7: service 2626: postscreen hands clients to service missing (smtpd_service_name), which master.cf does not define with type pass; service not started"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			procs, warns, _ := makePlan(tt.services, tt.env)
			if !reflect.DeepEqual(procs, tt.wantProcs) {
				t.Errorf("procs:\n got %+v\nwant %+v", procs, tt.wantProcs)
			}
			if !reflect.DeepEqual(warns, tt.wantWarns) {
				t.Errorf("warnings:\n got %q\nwant %q", warns, tt.wantWarns)
			}
		})
	}
}
