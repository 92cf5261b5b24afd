package smtpd

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStressAtProcessLimit: the stress parameter was documented as set by
// master under overload, but nothing set it, so the ${stress?...}
// defaults never took their stress values. A session that takes the last
// of the service's slots now starts the stress mode: it and the sessions
// after it get the stress values (here smtpd_hard_error_limit 1), the
// admin is warned as Postfix's master warns, and a session begun before
// keeps its normal limits.
func TestStressAtProcessLimit(t *testing.T) {
	ts := startServerWith(t, "", func(s *Server) { s.maxConns = 2 })
	before := ts.dial(t)
	last := ts.dial(t)
	waitLog(t, ts, `warning: service "" (`+ts.addr+`) has reached its process limit "2": new clients may experience noticeable delays`)
	waitLog(t, ts, "STRESS_README")
	last.cmd("XYZZY", "502")
	last.expect("421 4.7.0 mx.example.tst Error: too many errors")
	waitLog(t, ts, "too many errors after UNKNOWN")
	before.cmd("XYZZY", "502")
	before.cmd("NOOP", "250")
	before.cmd("QUIT", "221")
	after := ts.dial(t)
	after.cmd("XYZZY", "502")
	after.expect("421 4.7.0")
	if n := strings.Count(ts.log.String(), "has reached its process limit"); n != 1 {
		t.Errorf("the limit warning logged %d times, want once per 1000 seconds", n)
	}
}

// TestStressSetByAdmin: stress set in main.cf (or with -o) holds for
// every session; reaching the limit still warns, without the pointer to
// the stress settings.
func TestStressSetByAdmin(t *testing.T) {
	for _, tt := range []struct {
		conf      string
		hardLimit bool // the first error ends the session
	}{
		{"stress =", false},
		{"stress = yes", true},
	} {
		t.Run(tt.conf, func(t *testing.T) {
			ts := startServerWith(t, tt.conf, func(s *Server) { s.maxConns = 1 })
			c := ts.dial(t)
			waitLog(t, ts, "has reached its process limit")
			c.cmd("XYZZY", "502")
			if tt.hardLimit {
				c.expect("421 4.7.0")
				return
			}
			c.cmd("NOOP", "250")
			if strings.Contains(ts.log.String(), "STRESS_README") {
				t.Error("the stress pointer logged though the admin set stress")
			}
		})
	}
}

// TestPerRequestDeadline: smtpd_per_request_deadline and
// smtpd_min_data_rate were unknown names, and a client that sent a line
// of DATA or a few bytes of BDAT every so often held its session for as
// long as it liked. With per-request deadlines the transfer has
// smtpd_timeout, plus what the bytes that arrive earn at the minimum rate.
func TestPerRequestDeadline(t *testing.T) {
	const piece = "0123456789\r\n" // 12 bytes, every 300 ms: 40 bytes/s
	tests := []struct {
		name, conf string
		bdat       bool
		timesOut   bool
	}{
		{"DATA, deadline per line", "smtpd_per_request_deadline = no", false, false},
		{"DATA, rate not kept", "smtpd_per_request_deadline = yes\nsmtpd_min_data_rate = 1000", false, true},
		{"DATA, rate kept", "smtpd_per_request_deadline = yes\nsmtpd_min_data_rate = 10", false, false},
		{"BDAT, deadline per read", "smtpd_per_request_deadline = no", true, false},
		{"BDAT, rate not kept", "smtpd_per_request_deadline = yes\nsmtpd_min_data_rate = 1000", true, true},
		{"BDAT, stress default", "stress = yes\nsmtpd_min_data_rate = 1000", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, "smtpd_timeout = 2s\n"+tt.conf)
			c := ts.dial(t)
			c.cmd("EHLO client.example", "250")
			c.cmd("MAIL FROM:<a@example.org>", "250")
			c.cmd("RCPT TO:<joe@mx.example.tst>", "250")
			// 2.7 s, past smtpd_timeout; a pause of up to 1.7 s between two
			// pieces (a busy machine) still keeps a session that should live.
			const pieces = 9
			if tt.bdat {
				c.send("BDAT " + strconv.Itoa(pieces*len(piece)) + " LAST\r\n")
			} else {
				c.cmd("DATA", "354")
			}
			for i := 0; i < pieces; i++ {
				time.Sleep(300 * time.Millisecond)
				if _, err := c.c.Write([]byte(piece)); err != nil {
					if tt.timesOut {
						break // the server has closed the connection
					}
					t.Fatalf("write: %v", err)
				}
			}
			if tt.timesOut {
				// The reply is read even after the server closed: Linux
				// hands over what arrived before the reset.
				c.expect("421 4.4.2 mx.example.tst Error: timeout exceeded")
				return
			}
			if !tt.bdat {
				c.send(".\r\n")
			}
			c.expect("250 2.0.0 Ok: queued")
		})
	}
}

// TestMaxprocCountsAllListeners: each listener of a service had its own
// maxproc sessions, so a service on two addresses took twice its process
// limit. The limit is now the service's, as in Postfix.
func TestMaxprocCountsAllListeners(t *testing.T) {
	var srv *Server
	ts := startServerWith(t, "", func(s *Server) { s.maxConns = 1; srv = s })
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, l2) }()
	t.Cleanup(func() { cancel(); <-done })
	first := ts.dial(t)
	second := dialWaiting(t, l2.Addr().String())
	first.cmd("QUIT", "221")
	second.expect("220 ")
	second.cmd("QUIT", "221")
}
