package smtp

import "github.com/tern-mta/tern/pkg/envelope"

// xforwardAttrs are the XFORWARD attributes of a message (Postfix's
// smtp_send_xforward_command): the client it came from, the queue id,
// and whether it was submitted on this host (no client address).
func xforwardAttrs(env *envelope.Envelope) map[string]string {
	source := "REMOTE"
	if env.ClientAddr == "" {
		source = "LOCAL"
	}
	name := env.ClientName
	if env.ClientAddr == "" {
		name = ""
	}
	return map[string]string{"NAME": name, "ADDR": env.ClientAddr, "PROTO": env.Protocol,
		"HELO": env.Helo, "IDENT": env.ID, "SOURCE": source}
}
