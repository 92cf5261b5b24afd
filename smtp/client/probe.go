package client

import "context"

// probe runs MAIL and each RCPT in lock-step and ends with RSET: the
// server's answer to each recipient, with nothing delivered (Postfix's
// address verification probes do the same).
func (t *txn) probe(ctx context.Context) error {
	s := t.s
	if goOn, err := t.mailFrom(ctx); !goOn {
		return err
	}
	err := t.rcptLockstep(ctx, func(i int, r response) error {
		if r.Code == 421 {
			return s.replyError(StageRcpt, r.Reply)
		}
		t.res[i] = RcptResult{Reply: r.Reply, Stage: StageRcpt}
		return nil
	})
	if err != nil {
		return err
	}
	return s.rset(ctx)
}
