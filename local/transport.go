package local

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// perUser looks a login name up in a per-recipient table list
// (mailbox_transport_maps and its kin, keyed by the login name as in
// Postfix) and falls back to the global value. A table failure is
// returned as an error, for which the caller defers.
func perUser(tables []maps.Map, param, user, global string) (string, error) {
	if len(tables) > 0 {
		v, found, err := maps.LookupFirst(tables, strings.ToLower(user))
		if err != nil {
			return "", fmt.Errorf("%s: %w", param, err)
		}
		if found {
			return strings.TrimSpace(v), nil
		}
	}
	return global, nil
}

// mailboxTransport is the service that delivers user's mailbox:
// mailbox_transport_maps, else mailbox_transport; "" for local delivery.
func (a *Agent) mailboxTransport(user string) (string, error) {
	return perUser(a.cfg.MailboxTransportMaps, "mailbox_transport_maps", user, a.cfg.MailboxTransport)
}

// mailboxCommand is the command that delivers user's mailbox:
// mailbox_command_maps, else mailbox_command; "" for none.
func (a *Agent) mailboxCommand(user string) (string, error) {
	return perUser(a.cfg.MailboxCommandMaps, "mailbox_command_maps", user, a.cfg.MailboxCommand)
}

// fallbackTransport is the service for a name without an account:
// fallback_transport_maps, else fallback_transport; "" for none.
func (a *Agent) fallbackTransport(user string) (string, error) {
	return perUser(a.cfg.FallbackTransportMaps, "fallback_transport_maps", user, a.cfg.FallbackTransport)
}

// handlesUnknown says whether names without an account go anywhere but
// back to the sender: some transport, table or luser_relay is set.
func (c *Config) handlesUnknown() bool {
	return c.MailboxTransport != "" || len(c.MailboxTransportMaps) > 0 || c.FallbackTransport != "" ||
		len(c.FallbackTransportMaps) > 0 || c.LuserRelay != ""
}
