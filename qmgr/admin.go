package qmgr

import (
	"context"
	"errors"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/postsuper"
	"github.com/tern-mta/tern/pkg/queue"
)

// The superuser's queue operations (postsuper -d, -h, -H, -r; see
// pkg/postsuper for the protocol). A message that is not being delivered
// is changed in the database at once, while the scheduler is kept from
// activating it. One that is being delivered is marked instead: its jobs
// not yet started are skipped, those running finish (mail on the wire
// can't be called back), and the mark decides its fate when the pass
// ends.

// adminParallel bounds the messages one request changes at once; their
// commits share fsyncs, so deleting a large queue takes seconds.
const adminParallel = 64

// outcome is what an operation did to one message.
type outcome int

const (
	applied   outcome = iota // changed, or marked for when its pass ends
	missing                  // not in the named queues
	unchanged                // there, but already so (held, say) or failed
)

// selection is the messages a request names.
type selection struct {
	queues map[string]bool
	all    bool
	ids    []string
}

// serveAdmin answers one postsuper request on the qmgr socket.
func (m *Manager) serveAdmin(ctx context.Context, c *ipc.Conn, req ipc.Record, op postsuper.Op) {
	cred, err := ipc.PeerCred(c.NetConn())
	if err != nil || (cred.UID != 0 && int(cred.UID) != os.Geteuid()) {
		m.log.Warnf("refusing a queue %s request from uid %d: not the superuser", op, cred.UID)
		adminError(c, "permission denied: only the superuser may change the queue")
		return
	}
	sel, err := parseSelection(op, req)
	if err != nil {
		adminError(c, err.Error())
		return
	}
	done, notFound := m.administer(ctx, op, sel)
	if done > 0 && (op == postsuper.Release || op == postsuper.Requeue) {
		kick(m.sched.wake) // their messages are due now
	}
	_ = c.Send(ipc.FrameReply, ipc.Record{
		{Name: postsuper.AttrStatus, Value: "ok"},
		{Name: postsuper.AttrDone, Value: strconv.Itoa(done)},
		{Name: postsuper.AttrMissing, Value: strconv.Itoa(notFound)},
	})
}

func adminError(c *ipc.Conn, text string) {
	_ = c.Send(ipc.FrameReply, ipc.Record{{Name: postsuper.AttrStatus, Value: "error"}, {Name: postsuper.AttrText, Value: text}})
}

// parseSelection reads the queues and ids of a request.
func parseSelection(op postsuper.Op, req ipc.Record) (selection, error) {
	sel := selection{queues: map[string]bool{}, all: req.Get(postsuper.AttrAll) == "yes", ids: req.All(postsuper.AttrID)}
	names := req.All(postsuper.AttrQueue)
	if len(names) == 0 {
		names = postsuper.DefaultQueues(op)
	}
	for _, q := range names {
		if !postsuper.ValidQueue(q) {
			return sel, errors.New("unknown queue name: " + q)
		}
		sel.queues[q] = true
	}
	if sel.all == (len(sel.ids) > 0) {
		return sel, errors.New("name either queue ids or all messages")
	}
	if len(sel.ids) > postsuper.MaxIDs {
		return sel, errors.New("too many queue ids in one request")
	}
	return sel, nil
}

// administer applies op to the selected messages and counts the outcomes.
func (m *Manager) administer(ctx context.Context, op postsuper.Op, sel selection) (done, notFound int) {
	ids := sel.ids
	if sel.all {
		ids = m.idsIn(sel.queues)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	slots := make(chan struct{}, adminParallel)
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			o := m.administerOne(ctx, op, sel.queues, id)
			mu.Lock()
			defer mu.Unlock()
			switch o {
			case applied:
				done++
			case missing:
				notFound++
			}
		}()
	}
	wg.Wait()
	return done, notFound
}

// idsIn lists the messages in the named queues: the stored states and,
// for "active", the messages being delivered.
func (m *Manager) idsIn(queues map[string]bool) []string {
	var ids []string
	if queues[postsuper.QueueActive] {
		for id := range m.sched.activeIDs() {
			ids = append(ids, id)
		}
	}
	// The stored states have the queues' names; tern stores "active"
	// only for messages a crash interrupted, until recovery.
	for _, st := range queue.States() {
		if !queues[string(st)] {
			continue
		}
		list, err := m.q.IDs(st)
		if err != nil {
			m.log.Errorf("queue %s: %v", st, err)
			continue
		}
		ids = append(ids, list...)
	}
	return ids
}

// administerOne applies op to message id if it is in one of queues.
func (m *Manager) administerOne(ctx context.Context, op postsuper.Op, queues map[string]bool, id string) outcome {
	if !queue.ValidID(id) {
		return missing
	}
	for {
		wait, out, claimed := m.sched.claim(id, op, queues)
		if wait != nil {
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return unchanged
			}
		}
		if !claimed {
			return out
		}
		defer m.sched.unclaim(id)
		return m.applyStored(ctx, op, queues, id)
	}
}

// claim decides how op reaches message id. When it is being delivered,
// claim marks it (out is applied) or finds it not eligible (missing);
// when its pass is ending, the caller waits for wait and tries again;
// otherwise claimed is true and the message is not activated until
// unclaim.
func (s *scheduler) claim(id string, op postsuper.Op, queues map[string]bool) (wait <-chan struct{}, out outcome, claimed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.claimed[id]; ok {
		return ch, 0, false // another request is at it
	}
	if msg, ok := s.active[id]; ok {
		switch {
		case msg.settling:
			return msg.gone, 0, false
		case !queues[postsuper.QueueActive] || op == postsuper.Release:
			return nil, missing, false
		}
		if msg.admin != postsuper.Delete {
			msg.admin = op
		}
		if op == postsuper.Delete || op == postsuper.Hold {
			msg.skip.Store(true)
		}
		return nil, applied, false
	}
	s.claimed[id] = make(chan struct{})
	return nil, 0, true
}

// unclaim ends claim's hold on id.
func (s *scheduler) unclaim(id string) {
	s.mu.Lock()
	ch := s.claimed[id]
	delete(s.claimed, id)
	s.mu.Unlock()
	close(ch)
}

// applyStored applies op to a message that is not being delivered.
func (m *Manager) applyStored(ctx context.Context, op postsuper.Op, queues map[string]bool, id string) outcome {
	st, err := m.q.StateOf(id)
	if errors.Is(err, queue.ErrNotFound) || err == nil && !queues[string(st)] {
		return missing
	}
	if err != nil {
		m.log.Errorf("%s: %s: %v", id, op, err)
		return unchanged
	}
	if op == postsuper.Delete {
		if err := m.q.Delete(ctx, id); err != nil {
			m.log.Errorf("%s: remove: %v", id, err)
			return unchanged
		}
		m.logAdmin(id, op)
		return applied
	}
	target, ok := moveTarget(op, st)
	if !ok {
		return unchanged
	}
	env, _, err := m.q.Get(id)
	if err != nil {
		m.log.Errorf("%s: %s: %v", id, op, err)
		return unchanged
	}
	if target == queue.Deferred {
		env.NextAttempt = time.Now()
	}
	if err := m.q.Update(ctx, env, target); err != nil {
		m.log.Errorf("%s: %s: %v", id, op, err)
		return unchanged
	}
	m.logAdmin(id, op)
	return applied
}

// moveTarget is the state op moves a stored message in state st to, and
// false when op leaves it alone: a held message is not held again, only
// a held one is released, and a corrupt one stays for inspection.
func moveTarget(op postsuper.Op, st queue.State) (queue.State, bool) {
	switch {
	case st == queue.Corrupt:
		return "", false
	case op == postsuper.Hold:
		return queue.Hold, st != queue.Hold
	case op == postsuper.Release:
		return queue.Deferred, st == queue.Hold
	case op == postsuper.Requeue:
		return queue.Deferred, true
	}
	return "", false
}

// removeByAdmin deletes a message an administrator deleted during its
// delivery pass, once the pass is over; no notice goes to its sender.
func (m *Manager) removeByAdmin(id string, forget func()) {
	defer forget()
	if err := m.q.Delete(context.Background(), id); err != nil {
		m.log.Errorf("%s: remove: %v", id, err)
		return
	}
	m.logAdmin(id, postsuper.Delete)
}

// logAdmin logs what an operation did to a message, in postsuper's words.
func (m *Manager) logAdmin(id string, op postsuper.Op) {
	switch op {
	case postsuper.Delete:
		m.log.Infof("%s: removed", id)
	case postsuper.Hold:
		m.log.Infof("%s: placed on hold", id)
	case postsuper.Release:
		m.log.Infof("%s: released from hold", id)
	case postsuper.Requeue:
		m.log.Infof("%s: requeued", id)
	}
}
