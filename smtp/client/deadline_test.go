package client

import (
	"context"
	"net"
	"testing"
	"time"
)

// deadlineConn records the deadlines set on it and accepts every write.
type deadlineConn struct {
	net.Conn
	deadlines []time.Time
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

func (c *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }

// TestPerRequestDeadline: smtp_per_request_deadline and smtp_min_data_rate
// were unknown names. With them the content of a message has one
// deadline, smtp_data_xfer_timeout from its start, moved N/rate seconds
// later by each N bytes written but never beyond smtp_data_xfer_timeout
// from then.
func TestPerRequestDeadline(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		// the clock at each of three writes of 1000 bytes, in seconds
		// after the start, and the deadline each write gets
		at   []int
		want []int
	}{
		// Each write of 1000 bytes at 100 B/s earns the next 10 s, but
		// never beyond 60 s from when it ended.
		{"per request", []int{0, 30, 55}, []int{60, 60, 70}},
		{"per request, capped", []int{0, 1, 2}, []int{60, 60, 61}},
	}
	for _, tt := range tests {
		conn := &deadlineConn{}
		s := &Session{conn: conn, to: Timeouts{Body: time.Minute},
			opt: Options{PerRequestDeadline: true, MinDataRate: 100}}
		clock := start
		w := &deadlineWriter{s: s, ctx: context.Background(), at: start.Add(time.Minute), now: func() time.Time { return clock }}
		for i, sec := range tt.at {
			clock = start.Add(time.Duration(sec) * time.Second)
			_, _ = w.Write(make([]byte, 1000))
			got := conn.deadlines[len(conn.deadlines)-1]
			if want := start.Add(time.Duration(tt.want[i]) * time.Second); !got.Equal(want) {
				t.Errorf("%s: write %d at %ds: deadline +%s, want +%ds", tt.name, i, sec, got.Sub(start), tt.want[i])
			}
		}
	}
}

// TestPerWriteDeadline: by default each write of the content gets
// smtp_data_xfer_timeout from the moment it starts.
func TestPerWriteDeadline(t *testing.T) {
	conn := &deadlineConn{}
	s := &Session{conn: conn, to: Timeouts{Body: time.Minute}, opt: Options{MinDataRate: 100}}
	w := s.newDeadlineWriter(context.Background())
	for i := 0; i < 3; i++ {
		before := time.Now()
		_, _ = w.Write(make([]byte, 1000))
		got := conn.deadlines[len(conn.deadlines)-1]
		if got.Before(before.Add(time.Minute)) || got.After(time.Now().Add(time.Minute)) {
			t.Errorf("write %d: deadline %s after it started, want 1m", i, got.Sub(before))
		}
	}
}
