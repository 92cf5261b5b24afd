// Package postsuper is "tern queue delete|hold|release|requeue" and its
// postsuper(1)-compatible form: the superuser's queue maintenance, done by
// qmgr on the command's request; and "tern queue show", postcat(1)'s
// counterpart (show.go), which asks qmgr's showq socket for a message.
//
// # Protocol
//
// The command sends one request per operation to qmgr's socket
// $queue_directory/public/qmgr (the socket "sendmail -q" uses), as a pkg/ipc
// request record:
//
//	request  delete, hold, release or requeue
//	queue    a queue name to act on (repeated; none: the operation's
//	         default queues, see DefaultQueues)
//	all      "yes": every message in the queues; otherwise
//	id       a queue id (repeated, at most MaxIDs per request)
//
// qmgr answers with a reply record: status=ok with done (messages the
// operation applied to) and missing (ids not found in the named queues),
// or status=error with text. qmgr accepts these requests only from the
// superuser and from its own user (SO_PEERCRED), as Postfix restricts
// postsuper to the superuser.
package postsuper

// Attribute names of the requests and replies.
const (
	AttrRequest = "request"
	AttrQueue   = "queue"
	AttrAll     = "all"
	AttrID      = "id"
	AttrStatus  = "status"
	AttrText    = "text"
	AttrDone    = "done"
	AttrMissing = "missing"
)

// Op is one queue operation, named as on the wire.
type Op string

// The operations, with postsuper's option letters.
const (
	Delete  Op = "delete"  // postsuper -d: remove the message
	Hold    Op = "hold"    // postsuper -h: keep it from delivery
	Release Op = "release" // postsuper -H: release it from hold
	Requeue Op = "requeue" // postsuper -r: try it again now
)

// Ops lists every operation, in the order one command line runs them.
func Ops() []Op { return []Op{Delete, Hold, Release, Requeue} }

// Queue names, as Postfix calls its queue directories. tern's "active"
// queue is the set of messages with deliveries in progress.
const (
	QueueHold     = "hold"
	QueueIncoming = "incoming"
	QueueActive   = "active"
	QueueDeferred = "deferred"
	QueueCorrupt  = "corrupt"
)

// ValidQueue reports whether name is a queue an operation may name.
func ValidQueue(name string) bool {
	switch name {
	case QueueHold, QueueIncoming, QueueActive, QueueDeferred, QueueCorrupt:
		return true
	}
	return false
}

// DefaultQueues are the queues an operation acts on when none is named,
// as in postsuper(1): release looks only in hold, the others in hold,
// incoming, active and deferred.
func DefaultQueues(op Op) []string {
	if op == Release {
		return []string{QueueHold}
	}
	return []string{QueueHold, QueueIncoming, QueueActive, QueueDeferred}
}

// MaxIDs bounds the ids of one request, so that its record stays well
// below ipc.MaxPayload; the command sends more in further requests.
const MaxIDs = 10000

// ValidID reports whether id can be a queue id: letters and digits,
// 1 to 32 of them. It keeps stray words and mailq's marks out of requests.
func ValidID(id string) bool {
	if id == "" || len(id) > 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}
