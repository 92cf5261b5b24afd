package smtpd

import (
	"golang.org/x/sys/unix"

	"github.com/tern-mta/tern/pkg/reply"
)

// replyNoSpace is Postfix's refusal when the queue's file system is too
// full for the message (RFC 3463 4.3.1, mail system full).
var replyNoSpace = reply.New(reply.CodeInsufficient, reply.StatusTempFull, "Insufficient system storage")

// checkSpace refuses MAIL, as Postfix's smtpd does, when the file system
// of the queue has no more than queue_minfree bytes free (at least 1.5
// times message_size_limit), or too little for the declared size (SIZE=)
// next to that, or less than twice that size.
func (s *session) checkSpace(size int64) reply.Reply {
	minFree := s.srv.set.queueMinFree
	if minFree <= 0 && size <= 0 {
		return reply.Reply{}
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.srv.set.queueDir, &st); err != nil {
		s.srv.log.Warnf("statfs %s: %v", s.srv.set.queueDir, err)
		return reply.Reply{} // the queue itself will say if it cannot write
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	if minFree >= free || size >= free-minFree || size >= free/2 {
		s.srv.log.Infof("NOQUEUE: reject: MAIL from %s: %s; free space %d bytes, queue_minfree %d, size %d", s.client, replyNoSpace, free, minFree, size)
		return replyNoSpace
	}
	return reply.Reply{}
}
