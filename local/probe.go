package local

import (
	"errors"
	"strings"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// probe answers an address verification probe for one recipient without
// delivering: an address of another domain, an alias, a system account,
// or a name that a mailbox or fallback transport or luser_relay takes
// is deliverable; another name is an unknown user, as a delivery would
// bounce it.
func (a *Agent) probe(rc envelope.Recipient) agent.Result {
	deliverable := func(how string) agent.Result {
		return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: how}
	}
	lp, domain := splitAddr(rc.Address)
	if !a.isLocalDomain(domain) {
		return deliverable("forwards to another domain")
	}
	localPart := strings.ToLower(unquoteLocal(lp))
	user, ext, _ := a.splitExt(localPart)
	if user == "" {
		return agent.Bouncef("5.1.3", "null username in %q", rc.Address)
	}
	if a.cfg.Aliases != nil {
		for _, name := range []string{localPart, user} {
			_, found, err := a.cfg.Aliases.Lookup(name)
			if err != nil {
				return agent.Deferf("4.3.0", "alias database unavailable")
			}
			if found {
				return deliverable("aliased")
			}
			if ext == "" {
				break
			}
		}
	}
	_, err := a.cfg.Users.Lookup(user)
	switch {
	case err == nil:
		return deliverable("delivers to mailbox")
	case !errors.Is(err, ErrNoUser):
		return agent.Deferf("4.0.0", "user lookup error")
	case a.cfg.handlesUnknown():
		return deliverable("delivers to the transport or address for unknown users")
	}
	return agent.Bouncef("5.1.1", "unknown user: %q", user)
}
