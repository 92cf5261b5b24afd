package qmgr

import (
	"encoding/json"
	"io"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/queue"
)

// queueEntryJSON is one message in postqueue -j's output, with Postfix's
// field names (postqueue(1), "JSON OBJECT FORMAT").
type queueEntryJSON struct {
	QueueName    string          `json:"queue_name"`
	QueueID      string          `json:"queue_id"`
	ArrivalTime  int64           `json:"arrival_time"`
	MessageSize  int64           `json:"message_size"`
	ForcedExpire bool            `json:"forced_expire"`
	Sender       string          `json:"sender"`
	Recipients   []recipientJSON `json:"recipients"`
}

type recipientJSON struct {
	Address     string `json:"address"`
	DelayReason string `json:"delay_reason,omitempty"`
}

// queueNames are Postfix's names of tern's queue states.
var queueNames = map[queue.State]string{queue.Incoming: "incoming", queue.Deferred: "deferred", queue.Hold: "hold"}

// writeQueueJSON writes every queued message as one JSON object per line,
// as postqueue -j does: messages with deliveries in progress are in queue
// "active"; only recipients still to be delivered are listed.
func (m *Manager) writeQueueJSON(w io.Writer) error {
	active := m.sched.activeIDs()
	enc := json.NewEncoder(w)
	for _, st := range []queue.State{queue.Incoming, queue.Deferred, queue.Hold} {
		err := m.q.Walk(st, func(env *envelope.Envelope) error {
			e := queueEntryJSON{QueueName: queueNames[st], QueueID: env.ID, ArrivalTime: env.Arrival.Unix(),
				MessageSize: env.Size, Sender: env.Sender, Recipients: []recipientJSON{}}
			if active[env.ID] {
				e.QueueName = "active"
			}
			for _, rc := range env.Recipients {
				if rc.Status == envelope.Pending {
					e.Recipients = append(e.Recipients, recipientJSON{Address: rc.Address, DelayReason: rc.Reason})
				}
			}
			return enc.Encode(e)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
