package sendmail

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tern-mta/tern/pkg/ipc"
)

const queueReport = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n" +
	"4ABCDEF*       312 Mon Jan  1 00:00:00  alice\n                                         bob@example.com\n\n" +
	"-- 1 Kbytes in 1 Request.\n"

// startShowq serves public/showq with the given reply and body.
func startShowq(t *testing.T, env Env, reply ipc.Record, body string) {
	fakeServer(t, env, ShowqSocket, func(ctx context.Context, c *ipc.Conn) {
		req, err := c.Receive(ipc.FrameRequest)
		if err != nil || req.Get(AttrRequest) != RequestShowq {
			return
		}
		if c.Send(ipc.FrameReply, reply) != nil || reply.Get(AttrStatus) != StatusOK {
			return
		}
		w := c.BodyWriter()
		_, _ = w.Write([]byte(body))
		_ = w.Close()
	})
}

func TestMailq(t *testing.T) {
	tests := []struct {
		name   string
		argv0  string
		args   []string
		serve  bool
		reply  ipc.Record
		code   int
		stdout string
		stderr string
	}{
		{name: "mailq", argv0: "/usr/bin/mailq", serve: true, reply: ipc.Record{{Name: AttrStatus, Value: StatusOK}}, stdout: queueReport},
		{name: "sendmail -bp", argv0: "sendmail", args: []string{"-bp"}, serve: true, reply: ipc.Record{{Name: AttrStatus, Value: StatusOK}}, stdout: queueReport},
		{name: "down", argv0: "mailq", code: ExUnavailable, stderr: "mailq: fatal: Queue report unavailable - mail system is down\n"},
		{name: "error reply", argv0: "mailq", serve: true,
			reply: ipc.Record{{Name: AttrStatus, Value: StatusError}, {Name: AttrCode, Value: "77"}, {Name: AttrText, Value: "permission denied"}},
			code:  ExNoPerm, stderr: "mailq: fatal: permission denied\n"},
		{name: "recipient given", argv0: "mailq", args: []string{"x"}, code: ExUsage, stderr: "mailq: fatal: display queue mode requires no recipient\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			if tt.serve {
				startShowq(t, env, tt.reply, queueReport)
			}
			res := runMain(t, env, tt.argv0, tt.args, "")
			if res.code != tt.code || res.stdout != tt.stdout || res.stderr != tt.stderr {
				t.Errorf("got %d %q %q, want %d %q %q", res.code, res.stdout, res.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestFlush(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		serve   bool
		code    int
		flushes int64
		stderr  string
	}{
		{name: "-q", args: []string{"-q"}, serve: true, flushes: 1},
		{name: "-qR", args: []string{"-qRexample.com"}, serve: true, flushes: 1},
		{name: "-qI", args: []string{"-qIABC"}, serve: true, flushes: 1},
		{name: "-q1h does nothing", args: []string{"-q1h"}, serve: true, flushes: 0},
		{name: "down", args: []string{"-q"}, code: ExUnavailable, stderr: "sendmail: fatal: Cannot flush mail queue - mail system is down\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			var flushes atomic.Int64
			if tt.serve {
				fakeServer(t, env, QmgrSocket, func(ctx context.Context, c *ipc.Conn) {
					req, err := c.Receive(ipc.FrameRequest)
					if err != nil || req.Get(AttrRequest) != RequestFlush {
						return
					}
					flushes.Add(1)
					_ = c.Send(ipc.FrameReply, ipc.Record{{Name: AttrStatus, Value: StatusOK}})
				})
			}
			res := runMain(t, env, "sendmail", tt.args, "")
			if res.code != tt.code || res.stdout != "" || res.stderr != tt.stderr {
				t.Errorf("got %d %q %q, want %d %q", res.code, res.stdout, res.stderr, tt.code, tt.stderr)
			}
			// The client waits for the reply, so the count is final here.
			if got := flushes.Load(); got != tt.flushes {
				t.Errorf("%d flush requests, want %d", got, tt.flushes)
			}
		})
	}
}

func TestNewaliases(t *testing.T) {
	tests := []struct {
		name  string
		argv0 string
		args  []string
		ret   int
		code  int
		calls int
		maps  []string
	}{
		{name: "newaliases", argv0: "newaliases", calls: 1},
		{name: "-bi", argv0: "sendmail", args: []string{"-bi"}, calls: 1},
		{name: "-I -oA", argv0: "sendmail", args: []string{"-I", "-oAhash:/etc/aliases"}, calls: 1, maps: []string{"hash:/etc/aliases"}},
		{name: "delegate fails", argv0: "newaliases", ret: 75, code: 75, calls: 1},
		{name: "recipient", argv0: "newaliases", args: []string{"x"}, code: ExUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			calls := 0
			var maps []string
			env.Newaliases = func(args []string) int {
				calls++
				maps = args
				return tt.ret
			}
			res := runMain(t, env, tt.argv0, tt.args, "")
			if res.code != tt.code || calls != tt.calls || !reflect.DeepEqual(maps, tt.maps) {
				t.Errorf("exit %d calls %d maps %q, want %d %d %q (stderr %q)", res.code, calls, maps, tt.code, tt.calls, tt.maps, res.stderr)
			}
			if tt.code == 75 && res.stderr != "" {
				t.Errorf("stderr %q: the delegate reports its own errors", res.stderr)
			}
		})
	}
	env := testEnv(t)
	if res := runMain(t, env, "newaliases", nil, ""); res.code != ExUnavailable {
		t.Errorf("without a delegate: exit %d", res.code)
	}
}

func TestOtherModes(t *testing.T) {
	env := testEnv(t)
	if res := runMain(t, env, "sendmail", []string{"-bh"}, ""); res.code != 0 || res.stderr != "" {
		t.Errorf("-bh: %+v", res)
	}
	res := runMain(t, env, "sendmail", []string{"-bd"}, "")
	if res.code != ExUsage || !strings.HasPrefix(res.stderr, "sendmail: fatal: daemon mode") {
		t.Errorf("-bd: %+v", res)
	}
}

func TestConfigDirectory(t *testing.T) {
	env := testEnv(t)
	other := testEnv(t)
	p := startPickup(t, other, okReply)
	var asked string
	env.LookupConfig = func(dir string) (Env, error) {
		asked = dir
		if dir == "/bad" {
			return Env{}, errors.New("no main.cf")
		}
		return Env{QueueDirectory: other.QueueDirectory}, nil
	}
	res := runMain(t, env, "sendmail", []string{"-C", "/etc/alt/main.cf", "-oi", "u"}, "x\n")
	if res.code != 0 || asked != "/etc/alt" {
		t.Fatalf("exit %d asked %q: %s", res.code, asked, res.stderr)
	}
	if len(p.submissions(t, 1)) != 1 {
		t.Error("message did not go to the other queue directory")
	}
	res = runMain(t, env, "sendmail", []string{"-C/bad", "u"}, "x\n")
	if res.code != ExConfig || res.stderr != "sendmail: fatal: read configuration in /bad: no main.cf\n" {
		t.Errorf("bad -C: %+v", res)
	}
	env.LookupConfig = nil
	if res := runMain(t, env, "sendmail", []string{"-C/x", "u"}, "x\n"); res.code != ExUsage {
		t.Errorf("-C without LookupConfig: %+v", res)
	}
}
