package smtpd

import (
	"context"
	"fmt"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// verifyClient asks qmgr's address verification (over the cleanup
// service, as a "verify" request) for reject_unverified_sender and
// reject_unverified_recipient. While qmgr has no answer yet, it asks
// again up to address_verify_poll_count times, address_verify_poll_delay
// apart, as Postfix's smtpd does, so that a fast probe answers the first
// RCPT.
type verifyClient struct {
	socket string
	polls  int
	delay  time.Duration
}

func newVerifyClient(cfg *config.Config) *verifyClient {
	return &verifyClient{socket: daemon.ServiceSocket(cfg.Get("queue_directory"), "cleanup"),
		polls: max(cfg.Int("address_verify_poll_count"), 1), delay: cfg.Duration("address_verify_poll_delay")}
}

// verify is restrict.Deps.Verify. A session under stress asks once
// (address_verify_poll_count is ${stress?{1}:{3}}).
func (v *verifyClient) verify(ctx context.Context, addr string) (status, text string, err error) {
	polls := v.polls
	if l := limitsOf(ctx); l != nil {
		polls = l.verifyPolls
	}
	for i := 0; ; i++ {
		status, text, err = v.ask(addr)
		if err != nil || status != restrict.VerifyUnknown || i+1 >= polls {
			return status, text, err
		}
		select {
		case <-ctx.Done():
			return status, text, nil
		case <-time.After(v.delay):
		}
	}
}

// ask sends one verify request.
func (v *verifyClient) ask(addr string) (status, text string, err error) {
	c, err := ipc.Dial(v.socket, 30*time.Second)
	if err != nil {
		return "", "", fmt.Errorf("connect to %s: %w", v.socket, err)
	}
	defer c.Close()
	if err := c.Send(ipc.FrameRequest, ipc.Record{{Name: "request", Value: "verify"}, {Name: "address", Value: addr}}); err != nil {
		return "", "", fmt.Errorf("verify %s: %w", addr, err)
	}
	r, err := c.Receive(ipc.FrameReply)
	if err != nil {
		return "", "", fmt.Errorf("verify %s: %w", addr, err)
	}
	return r.Get("status"), r.Get("text"), nil
}
