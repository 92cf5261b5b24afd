package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSessionReuseAndClose(t *testing.T) {
	tests := []struct {
		name     string
		steps    []step
		resetErr string // "" for success
		lines    []string
	}{
		{
			name: "two messages with RSET between, then QUIT",
			steps: []step{{expect: "MAIL", reply: "250 ok"}, {expect: "RCPT", reply: "250 ok"}, {expect: "DATA", reply: "354 go"},
				{do: "body", reply: "250 queued"}, {expect: "RSET", reply: "250 ok"},
				{expect: "MAIL", reply: "250 ok"}, {expect: "RCPT", reply: "250 ok"}, {expect: "DATA", reply: "354 go"},
				{do: "body", reply: "250 queued"}, {expect: "QUIT", reply: "221 bye"}},
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA", "RSET", "MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA", "QUIT"},
		},
		{
			name: "RSET refused ends the session",
			steps: []step{{expect: "MAIL", reply: "250 ok"}, {expect: "RCPT", reply: "250 ok"}, {expect: "DATA", reply: "354 go"},
				{do: "body", reply: "250 queued"}, {expect: "RSET", reply: "500 5.5.1 what"}},
			resetErr: "500 5.5.1 what (in reply to RSET command)",
			lines:    []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA", "RSET"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, fs := startFake(t, script(greet(), tc.steps))
			ctx := testCtx(t)
			s, err := Open(ctx, conn, testPeer, Options{Helo: "c"})
			if err != nil {
				t.Fatal(err)
			}
			msg := func() Message {
				return Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("x\n")}
			}
			res, err := s.Send(ctx, msg())
			if err != nil || summary(res) != "250 end of DATA" {
				t.Fatalf("first Send = %q, %v", summary(res), err)
			}
			err = s.Reset(ctx)
			if tc.resetErr != "" {
				checkErr(t, err, tc.resetErr, false, StageRset)
				if _, err := s.Send(ctx, msg()); err == nil {
					t.Error("Send on a dead session succeeded")
				}
			} else {
				if err != nil {
					t.Fatalf("Reset: %v", err)
				}
				if res, err := s.Send(ctx, msg()); err != nil || summary(res) != "250 end of DATA" {
					t.Fatalf("second Send = %q, %v", summary(res), err)
				}
			}
			if err := s.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			fs.wait(t)
			if lines, _ := fs.got(); strings.Join(lines[1:], "|") != strings.Join(tc.lines, "|") {
				t.Errorf("server saw %q, want %q", lines[1:], tc.lines)
			}
		})
	}
}

func TestSendCancel(t *testing.T) {
	conn, fs := startFake(t, script(greet(), []step{{expect: "MAIL", do: "hang"}}))
	s, err := Open(testCtx(t), conn, testPeer, Options{Helo: "c"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res, err := s.Send(ctx, Message{Sender: "s@x", Recipients: rcpts("a@x")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Send = %v, want a cancellation", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	if summary(res) != "0" {
		t.Errorf("results %q, want none answered", summary(res))
	}
	fs.wait(t)
}

func TestDescribe(t *testing.T) {
	s := &Session{}
	s.peerName, s.hostName = splitPeer(testPeer)
	tests := []struct {
		r    RcptResult
		want string
	}{
		{RcptResult{Reply: Reply{Code: 550, Enhanced: "5.1.1", Text: "550 5.1.1 unknown"}, Stage: StageRcpt},
			"host mx.example.com[192.0.2.1] said: 550 5.1.1 unknown (in reply to RCPT TO command)"},
		{RcptResult{Reply: Reply{Code: 250, Text: "250 2.0.0 Ok: queued as X"}, Stage: StageDataDone}, "250 2.0.0 Ok: queued as X"},
		{RcptResult{Reply: localReply(552, "5.3.4", "message size 9 exceeds size limit 1 of server %s", s.peerName)},
			"message size 9 exceeds size limit 1 of server mx.example.com[192.0.2.1]"},
	}
	for _, tc := range tests {
		if got := s.Describe(tc.r); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.r, got, tc.want)
		}
	}
	if s.hostName != "mx.example.com" {
		t.Errorf("host name %q", s.hostName)
	}
}

func TestSplitPeer(t *testing.T) {
	tests := []struct{ in, name, host string }{
		{"mx.example.com[192.0.2.1]:25", "mx.example.com[192.0.2.1]", "mx.example.com"},
		{"[2001:db8::1]:25", "[2001:db8::1]", ""},
		{"mx.example.com:25", "mx.example.com", "mx.example.com"},
		{"mx.example.com", "mx.example.com", "mx.example.com"},
	}
	for _, tc := range tests {
		if n, h := splitPeer(tc.in); n != tc.name || h != tc.host {
			t.Errorf("splitPeer(%q) = %q, %q; want %q, %q", tc.in, n, h, tc.name, tc.host)
		}
	}
}

func TestXtext(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain@x", "plain@x"},
		{"a+b=c d", "a+2Bb+3Dc+20d"},
		{"\xc3\xa9", "+C3+A9"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := xtext(tc.in); got != tc.want {
			t.Errorf("xtext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSkipQuitResponse: smtp_skip_quit_response was an unknown name and
// the client always waited for the reply to QUIT, up to
// smtp_quit_timeout from a server that never answers. With it (Postfix's
// default for smtp) the client says QUIT and goes.
func TestSkipQuitResponse(t *testing.T) {
	conn, fs := startFake(t, script(greet(), []step{{expect: "QUIT", do: "stall"}}))
	ctx := testCtx(t)
	s, err := Open(ctx, conn, testPeer, Options{Helo: "c", SkipQuitResponse: true, Timeouts: Timeouts{Quit: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Close(ctx); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s: it waited for the QUIT reply", d)
	}
	fs.wait(t)
	if lines, _ := fs.got(); lines[len(lines)-1] != "QUIT" {
		t.Errorf("server saw %q, want QUIT last", lines)
	}
}
