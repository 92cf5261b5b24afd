package master

import (
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// enabledServices drops the master.cf entries that master_service_disable
// names, as Postfix's master does: each pattern is a service type (inet,
// unix, fifo, pass) or name/type, "!" before it keeps the entries it
// matches, and the first pattern that matches an entry decides.
func enabledServices(services []config.Service, patterns []string) []config.Service {
	if len(patterns) == 0 {
		return services
	}
	var out []config.Service
	for _, s := range services {
		if !serviceDisabled(s, patterns) {
			out = append(out, s)
		}
	}
	return out
}

// serviceDisabled reports whether the first pattern matching s disables it.
func serviceDisabled(s config.Service, patterns []string) bool {
	for _, p := range patterns {
		keep := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		name, typ, named := strings.Cut(p, "/")
		if !named {
			name, typ = "", p
		}
		if strings.EqualFold(typ, s.Type) && (!named || name == s.Name) {
			return !keep
		}
	}
	return false
}
