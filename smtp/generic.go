package smtp

import (
	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/rewrite"
)

// genericAddrs are the envelope addresses of a delivery after
// smtp_generic_maps, the recipients in the request's order.
type genericAddrs struct {
	sender string
	rcpts  []string
}

// genericEnvelope applies smtp_generic_maps to the sender and recipients
// of a delivery, as Postfix's smtp(8) does before MAIL FROM; the queue
// keeps the addresses as they were, so logs and bounces name those.
func genericEnvelope(g *rewrite.Settings, sender string, rcpts []string) (string, []string, error) {
	s, err := g.GenericAddress(sender)
	if err != nil {
		return "", nil, err
	}
	out := make([]string, len(rcpts))
	for i, r := range rcpts {
		if out[i], err = g.GenericAddress(r); err != nil {
			return "", nil, err
		}
	}
	return s, out, nil
}

// requestAddresses are the envelope addresses of req's recipients.
func requestAddresses(req *agent.Request) []string {
	out := make([]string, len(req.Recipients))
	for i, rc := range req.Recipients {
		out[i] = rc.Address
	}
	return out
}
