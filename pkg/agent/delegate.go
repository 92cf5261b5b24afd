package agent

import (
	"path/filepath"
	"time"

	"github.com/tern-mta/tern/pkg/envelope"
)

// Delegate hands rcpts of req to the delivery agent of the master.cf
// service transport, over $queue_directory/private/TRANSPORT, with the
// message's envelope and content, and returns that agent's results,
// marked Logged: it has logged them. A service that cannot be reached
// defers them (local's mailbox_transport, smtp's best_mx_transport).
func Delegate(queueDir string, timeout time.Duration, transport, nexthop string, req *Request, rcpts []envelope.Recipient) []Result {
	fail := func(err error) []Result {
		out := make([]Result, len(rcpts))
		for i := range out {
			out[i] = Deferf("4.3.0", "mail transport unavailable: %s: %v", transport, err)
		}
		return out
	}
	cl, err := DialAgent(filepath.Join(queueDir, "private", transport), timeout)
	if err != nil {
		return fail(err)
	}
	defer cl.Close()
	rs, err := cl.Deliver(req.Env, rcpts, transport, nexthop, Reader(req.Body))
	if err != nil {
		return fail(err)
	}
	for i := range rs {
		rs[i].Logged = true
	}
	return rs
}
