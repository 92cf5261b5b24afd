package smtpd

import "time"

// contentDeadline is the time limit of one DATA or BDAT transfer.
//
// With smtpd_per_request_deadline, as in Postfix, the request has one
// deadline, smtpd_timeout from its start; each N bytes that arrive move
// it N/smtpd_min_data_rate seconds later, but never beyond smtpd_timeout
// from the moment they arrived. A client that trickles its message a few
// bytes at a time, to hold a session open, runs out of time.
//
// Without it smtpd_timeout starts anew before every read that may block:
// each line of DATA (or part of a long one) and each read of a BDAT chunk.
type contentDeadline struct {
	s    *session
	at   time.Time // the request's deadline (per-request mode)
	seen int64     // bytes accounted for in at
}

// newContentDeadline starts the deadline of a DATA or BDAT request.
func (s *session) newContentDeadline() *contentDeadline {
	return &contentDeadline{s: s, at: time.Now().Add(s.lim.timeout)}
}

// renew arms the deadline before a read that may block, consumed being
// the bytes of the request read so far.
func (d *contentDeadline) renew(consumed int64) {
	l := d.s.lim
	if !l.perRequestDeadline {
		d.s.deadline()
		return
	}
	if n := consumed - d.seen; n > 0 && l.minDataRate > 0 {
		d.seen = consumed
		d.at = d.at.Add(time.Duration(n) * time.Second / time.Duration(l.minDataRate))
		if ceiling := time.Now().Add(l.timeout); d.at.After(ceiling) {
			d.at = ceiling
		}
	}
	_ = d.s.conn.SetDeadline(d.at)
}
