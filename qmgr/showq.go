package qmgr

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/postsuper"
	"github.com/tern-mta/tern/pkg/queue"
)

// serveShowq answers mailq: the queue listing as text, in Postfix's
// layout; and "tern queue show", one message (postcat.go).
func (m *Manager) serveShowq(ctx context.Context, c *ipc.Conn) {
	req, err := c.Receive(ipc.FrameRequest)
	if err != nil {
		return
	}
	switch req.Get(attrRequest) {
	case "showq":
		if refusal := m.queueUserRefusal(c, m.settings.mailqACL, "authorized_mailq_users", "view the mail queue"); refusal != nil {
			_ = c.Send(ipc.FrameReply, refusal)
			return
		}
	case "show":
		m.serveShow(ctx, c, req)
		return
	default:
		return
	}
	if err := c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: "ok"}}); err != nil {
		return
	}
	w := c.BodyWriter()
	bw := bufio.NewWriter(w)
	listing := m.writeQueueListing
	if req.Get("format") == "json" {
		listing = m.writeQueueJSON
	}
	if err := listing(bw); err != nil {
		m.log.Warnf("showq: %v", err)
	}
	bw.Flush()
	w.Close()
	// A listing of a large queue leaves its garbage behind: give the
	// memory back now rather than at the collector's leisure.
	if n := m.q.Counts(); n[queue.Incoming]+n[queue.Deferred]+n[queue.Hold] > largeListing {
		debug.FreeOSMemory()
	}
}

// largeListing is the queue size above which a listing returns its memory
// to the system at once.
const largeListing = 10000

// writeQueueListing writes every queued message: id (with * for active, !
// for hold), size, arrival, sender, then each pending recipient preceded by
// its last reason in parentheses.
func (m *Manager) writeQueueListing(w io.Writer) error {
	active := m.sched.activeIDs()
	var count int
	var bytes int64
	write := func(env *envelope.Envelope, state queue.State) error {
		if count == 0 {
			// Postfix's layout, with the id column as wide as tern's
			// 13-character ids plus the status mark.
			fmt.Fprintf(w, "%-14s %8s %20s %s\n", "-Queue ID-", "--Size--", "----Arrival Time----", "-Sender/Recipient-------")
		}
		count++
		bytes += env.Size
		mark := " "
		if active[env.ID] {
			mark = "*"
		} else if state == queue.Hold {
			mark = "!"
		}
		sender := env.Sender
		if sender == "" {
			sender = "MAILER-DAEMON"
		}
		fmt.Fprintf(w, "%-14s %8d %20s %s\n", env.ID+mark, env.Size, env.Arrival.Format("Mon Jan _2 15:04:05"), sender)
		for _, rc := range env.Recipients {
			if rc.Status != envelope.Pending {
				continue
			}
			if rc.Reason != "" {
				fmt.Fprintf(w, "%45s(%s)\n", "", rc.Reason)
			}
			fmt.Fprintf(w, "%45s%s\n", "", rc.Address)
		}
		_, err := fmt.Fprintln(w)
		return err
	}
	for _, st := range []queue.State{queue.Incoming, queue.Deferred, queue.Hold} {
		err := m.q.Walk(st, func(env *envelope.Envelope) error { return write(env, st) })
		if err != nil {
			return err
		}
	}
	if count == 0 {
		_, err := fmt.Fprintln(w, "Mail queue is empty")
		return err
	}
	plural := "s"
	if count == 1 {
		plural = ""
	}
	_, err := fmt.Fprintf(w, "-- %d Kbytes in %d Request%s.\n", (bytes+1023)/1024, count, plural)
	return err
}

// serveQmgr serves trigger requests: "flush" (sendmail -q) makes all
// deferred mail due now, "wakeup" drains maildrop; and the superuser's
// queue operations (admin.go).
func (m *Manager) serveQmgr(ctx context.Context, c *ipc.Conn) {
	req, err := c.Receive(ipc.FrameRequest)
	if err != nil {
		return
	}
	switch req.Get(attrRequest) {
	case "flush":
		if refusal := m.queueUserRefusal(c, m.settings.flushACL, "authorized_flush_users", "flush the mail queue"); refusal != nil {
			_ = c.Send(ipc.FrameReply, refusal)
			return
		}
		kick(m.sched.pickupKick)
		f := flushFilter{id: req.Get("id"), site: req.Get("site")}
		if f.id == "" && f.site == "" {
			kick(m.sched.flush)
			break
		}
		select {
		case m.sched.flushSome <- f:
		default:
			kick(m.sched.flush) // many asked at once: flush it all
		}
	case "wakeup":
		kick(m.sched.pickupKick)
	case string(postsuper.Delete), string(postsuper.Hold), string(postsuper.Release), string(postsuper.Requeue):
		m.serveAdmin(ctx, c, req, postsuper.Op(req.Get(attrRequest)))
		return
	default:
		_ = c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: "error"}, {Name: attrText, Value: "unknown request"}})
		return
	}
	_ = c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: "ok"}})
}

// activeIDs returns the ids of messages with deliveries in progress.
func (s *scheduler) activeIDs() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make(map[string]bool, len(s.active))
	for id := range s.active {
		ids[id] = true
	}
	return ids
}
