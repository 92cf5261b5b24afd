package restrict

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
)

// PolicyService names a policy server and, for the braced form of
// check_policy_service, its own settings; a zero field means the
// smtpd_policy_service_* parameter of main.cf.
type PolicyService struct {
	Addr         string // inet:host:port or unix:path
	Timeout      time.Duration
	MaxIdle      time.Duration
	MaxTTL       time.Duration
	RetryDelay   time.Duration
	TryLimit     int
	RequestLimit int
}

// policyStep is the argument of one check_policy_service.
type policyStep struct {
	svc PolicyService
	// defaultAction and context override
	// smtpd_policy_service_default_action and _policy_context when set.
	defaultAction, context string
}

// parsePolicyArg parses check_policy_service's argument: a server, or
// Postfix 3's braced form "{ server, name=value, ... }" with the names
// timeout, max_idle, max_ttl, retry_delay, try_limit, request_limit,
// default_action and policy_context.
func parsePolicyArg(arg string) (*policyStep, error) {
	if !strings.HasPrefix(arg, "{") {
		if !validService(arg) {
			return nil, fmt.Errorf("bad policy server %q: need inet:host:port or unix:/path (unix:private/name is in queue_directory)", arg)
		}
		return &policyStep{svc: PolicyService{Addr: arg}}, nil
	}
	inner, ok := strings.CutSuffix(strings.TrimSpace(arg[1:]), "}")
	if !ok {
		return nil, fmt.Errorf("missing } in %q", arg)
	}
	items := splitPolicyItems(inner)
	if len(items) == 0 || !validService(items[0]) {
		return nil, fmt.Errorf("%q: the first item must be the policy server, inet:host:port or unix:/path", arg)
	}
	p := &policyStep{svc: PolicyService{Addr: items[0]}}
	for _, item := range items[1:] {
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			return nil, fmt.Errorf("%q: need name=value", item)
		}
		if err := p.set(strings.TrimSpace(name), strings.TrimSpace(value)); err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
	}
	return p, nil
}

// splitPolicyItems splits the inside of the braces at commas and white
// space, except within a {...} value (a default_action with spaces), and
// joins "name = value" written with spaces around the "=".
func splitPolicyItems(s string) []string {
	var out []string
	for _, w := range splitWords(s) {
		if n := len(out); n > 0 && (w == "=" || strings.HasPrefix(w, "=") || strings.HasSuffix(out[n-1], "=")) {
			out[n-1] += w
			continue
		}
		out = append(out, w)
	}
	for i, w := range out {
		name, value, ok := strings.Cut(w, "=")
		if ok && strings.HasPrefix(value, "{") && strings.HasSuffix(value, "}") {
			out[i] = name + "=" + strings.TrimSpace(value[1:len(value)-1])
		}
	}
	return out
}

// set applies one name=value setting.
func (p *policyStep) set(name, value string) error {
	durations := map[string]*time.Duration{"timeout": &p.svc.Timeout, "max_idle": &p.svc.MaxIdle,
		"max_ttl": &p.svc.MaxTTL, "retry_delay": &p.svc.RetryDelay}
	ints := map[string]*int{"try_limit": &p.svc.TryLimit, "request_limit": &p.svc.RequestLimit}
	switch {
	case durations[name] != nil:
		d, err := config.ParseDuration(value, "s")
		if err != nil || d <= 0 {
			return fmt.Errorf("bad time value %q", value)
		}
		*durations[name] = d
	case ints[name] != nil:
		n, err := strconv.Atoi(value)
		if err != nil || n < 0 {
			return fmt.Errorf("bad number %q", value)
		}
		*ints[name] = n
	case name == "default_action":
		p.defaultAction = value
	case name == "policy_context":
		p.context = value
	default:
		return fmt.Errorf("unknown setting %q", name)
	}
	return nil
}
