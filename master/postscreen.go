package master

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// A Postfix master.cf that enables postscreen(8) has
//
//	smtp   inet  n  -  y  -  1  postscreen
//	smtpd  pass  -  -  y  -  -  smtpd
//
// where postscreen owns port 25 and hands the clients it lets through to
// the pass service named by smtpd_service_name. tern serves such a port
// with smtpd directly, with the pass entry's settings (maxproc, -o
// overrides, arguments) and tern_postscreen = yes, under which smtpd runs
// postscreen's tests before it greets a client (smtpd/screen). The
// postscreen entry's own -o postscreen_* settings go along; its other -o
// settings would only have applied to postscreen, and are ignored with a
// warning.

// postscreenCommand is the master.cf command of Postfix's postscreen.
const postscreenCommand = "postscreen"

// postscreenTarget is the name of the pass service that postscreen entry
// s hands clients to: its -o smtpd_service_name, else main.cf's.
func postscreenTarget(s config.Service, env planEnv) string {
	name := env.SmtpdServiceName
	for _, o := range s.Overrides {
		if o[0] == "smtpd_service_name" {
			name = o[1]
		}
	}
	if name == "" {
		name = "smtpd"
	}
	return name
}

// postscreenTargets returns the pass services behind the postscreen
// entries of services, by name.
func postscreenTargets(services []config.Service, env planEnv) map[string]bool {
	targets := map[string]bool{}
	for _, s := range services {
		if s.Command == postscreenCommand {
			targets[postscreenTarget(s, env)] = true
		}
	}
	return targets
}

// servePostscreen finds the entry that tern runs, on the address of
// postscreen entry s, instead: the pass service behind it. ok is false
// when there is no such pass service running smtpd; warn explains either
// way.
func servePostscreen(s config.Service, services []config.Service, env planEnv) (pass config.Service, warn string, ok bool) {
	target := postscreenTarget(s, env)
	for _, p := range services {
		if p.Type != "pass" || p.Name != target {
			continue
		}
		if p.Command != "smtpd" {
			return s, fmt.Sprintf("service %s: postscreen hands clients to service %s, which runs %s, not smtpd; service not started", s.Name, target, p.Command), false
		}
		if ignored := postscreenOverrides(s); len(ignored) > 0 {
			warn = fmt.Sprintf("service %s: postscreen is served by smtpd with the settings of service %s (%s:%d); -o %s ignored", s.Name, target, p.File, p.Line, strings.Join(ignored, ", -o "))
		}
		return screened(withProxy(p, s, env), s), warn, true
	}
	return s, fmt.Sprintf("service %s: postscreen hands clients to service %s (smtpd_service_name), which master.cf does not define with type pass; service not started", s.Name, target), false
}

// withProxy gives pass entry p, serving postscreen entry s's address,
// postscreen's upstream proxy settings (main.cf's, or s's -o) as smtpd's
// smtpd_upstream_proxy_protocol and _timeout: the load balancer in front
// still sends its PROXY header.
func withProxy(p, s config.Service, env planEnv) config.Service {
	proto, timeout := env.PostscreenProxy, env.PostscreenProxyTimeout
	for _, o := range s.Overrides {
		switch o[0] {
		case "postscreen_upstream_proxy_protocol":
			proto = o[1]
		case "postscreen_upstream_proxy_timeout":
			timeout = o[1]
		}
	}
	if proto == "" {
		return p
	}
	p.Overrides = append(slices.Clone(p.Overrides), [2]string{"smtpd_upstream_proxy_protocol", proto})
	if timeout != "" {
		p.Overrides = append(p.Overrides, [2]string{"smtpd_upstream_proxy_timeout", timeout})
	}
	return p
}

// screened gives pass entry p, serving postscreen entry s's address,
// tern_postscreen = yes and s's -o postscreen_* settings.
func screened(p, s config.Service) config.Service {
	overrides := append(slices.Clone(p.Overrides), [2]string{"tern_postscreen", "yes"})
	for _, o := range s.Overrides {
		if strings.HasPrefix(o[0], "postscreen_") {
			overrides = append(overrides, o)
		}
	}
	p.Overrides = overrides
	return p
}

// postscreenOverrides lists the -o names of postscreen entry s that only
// postscreen would have used: all but smtpd_service_name and its own
// postscreen_* settings.
func postscreenOverrides(s config.Service) []string {
	var names []string
	for _, o := range s.Overrides {
		if o[0] != "smtpd_service_name" && !strings.HasPrefix(o[0], "postscreen_") {
			names = append(names, o[0])
		}
	}
	return names
}
