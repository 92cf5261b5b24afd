package qmgr

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/queue"
)

// localSender is the default sender of a pickup submission by this process.
func localSender(t *testing.T) string {
	t.Helper()
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		return strconv.Itoa(os.Getuid()) + "@example.com"
	}
	return u.Username + "@example.com"
}

func TestPickupDelivers(t *testing.T) {
	h := newMTA(t, "", nil)
	id := h.submit(rcpts("joe@example.com", "JOE@example.com", "ann"), "Subject: test\n\nhello\n")
	reqs := h.waitRequests(2)
	h.waitEmpty()
	if _, _, err := h.m.q.Get(id); !errors.Is(err, queue.ErrNotFound) {
		t.Errorf("Get after delivery: %v, want ErrNotFound", err)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d agent requests, want 2 (one per local recipient, duplicate dropped)", len(reqs))
	}
	var got []string
	for _, r := range reqs {
		if r.transport != "local" || r.nexthop != "mx.example.com" {
			t.Errorf("transport %q nexthop %q", r.transport, r.nexthop)
		}
		if r.env.ID != id || r.env.Sender != localSender(t) || r.env.Protocol != "local" {
			t.Errorf("envelope %+v", r.env)
		}
		if len(r.rcpts) != 1 {
			t.Fatalf("recipients %+v, want one per request", r.rcpts)
		}
		rc := r.rcpts[0]
		// The original is the address as given: Postfix logs
		// orig_to=<ann> for "sendmail ann" (TestUnqualifiedRecipientKeepsOriginal).
		if want := strings.TrimSuffix(rc.Address, "@example.com"); rc.Original != rc.Address && rc.Original != want {
			t.Errorf("recipient %+v: original should be the address as given", rc)
		}
		got = append(got, rc.Address)
		body := r.body
		uid := strconv.Itoa(os.Getuid())
		if !strings.HasPrefix(body, "Received: by mx.example.com (tern, from userid "+uid+")\n\tid "+id+"; ") {
			t.Errorf("no local Received header first:\n%s", body)
		}
		for _, hdr := range []string{"\nMessage-Id: <", "\nDate: ", "\nFrom: ", "\nSubject: test\n"} {
			if !strings.Contains(body, hdr) {
				t.Errorf("content lacks %q:\n%s", hdr, body)
			}
		}
		if !strings.HasSuffix(body, "\n\nhello\n") {
			t.Errorf("body not kept:\n%s", body)
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "ann@example.com joe@example.com" {
		t.Errorf("recipients %v", got)
	}
	h.waitLog(id + ": removed")
	log := h.log.String()
	for _, s := range []string{id + ": uid=" + strconv.Itoa(os.Getuid()) + " from=<" + localSender(t) + ">", id + ": message-id=<", "nrcpt=2 (queue active)", "to=<joe@example.com>, relay=local"} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}

func TestPickupSenderAndNotify(t *testing.T) {
	h := newMTA(t, "", nil)
	req := rcpts("joe@example.com").Add("sender", "boss").Add("notify", "success,failure").Add("envid", "E1").Add("ret", "HDRS")
	h.submit(req, "Subject: s\n\nx\n")
	r := h.waitRequests(1)[0]
	if r.env.Sender != "boss@example.com" {
		t.Errorf("sender %q, want boss@example.com", r.env.Sender)
	}
	if r.rcpts[0].Notify != "SUCCESS,FAILURE" {
		t.Errorf("notify %q", r.rcpts[0].Notify)
	}
	if r.env.EnvID != "E1" || r.env.Ret != "HDRS" {
		t.Errorf("envid %q ret %q", r.env.EnvID, r.env.Ret)
	}
	h.waitEmpty()
}

func TestPickupRefusals(t *testing.T) {
	h := newMTA(t, "", nil)
	tests := []struct {
		name string
		req  ipc.Record
		dsn  string
		code string
	}{
		{"no recipients", ipc.Record{{Name: "request", Value: "submit"}}, "5.1.3", "65"},
		{"unknown request", ipc.Record{{Name: "request", Value: "frobnicate"}}, "", "70"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply, c := h.call("pickup", tt.req, []byte("Subject: x\n\n"))
			c.Close()
			if reply.Get("status") != "error" || reply.Get("dsn") != tt.dsn || reply.Get("code") != tt.code {
				t.Errorf("reply %v", reply)
			}
		})
	}
	if !h.queueEmpty() || len(h.agent.requests()) != 0 {
		t.Error("a refused message was queued or delivered")
	}
}

// TestCleanupAccepts submits as smtpd does. The test runs with the
// daemons' own uid, so only acceptance can be checked here.
func TestCleanupAccepts(t *testing.T) {
	h := newMTA(t, "", nil)
	env := &envelope.Envelope{ID: "ignored", Sender: "alice@remote.org", ClientName: "client.remote.org",
		ClientAddr: "192.0.2.9", Helo: "client", Protocol: "ESMTP"}
	rc := envelope.Recipient{Address: "bob@example.com", Original: "Bob@Example.com", ORcpt: "rfc822;Bob@Example.com", Notify: "FAILURE"}
	req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(rc))
	reply, c := h.call("cleanup", req, []byte("From: alice@remote.org\nSubject: hi\n\nbody\n"))
	c.Close()
	if reply.Get("status") != "ok" {
		t.Fatalf("cleanup refused: %v", reply)
	}
	id := reply.Get("id")
	if id == "ignored" || id == "" {
		t.Errorf("queue id %q: the client's id was used", id)
	}
	r := h.waitRequests(1)[0]
	h.waitEmpty()
	if r.env.Sender != "alice@remote.org" || r.env.ClientAddr != "192.0.2.9" || r.env.Protocol != "ESMTP" {
		t.Errorf("envelope %+v", r.env)
	}
	if len(r.rcpts) != 1 || r.rcpts[0] != rc {
		t.Errorf("recipients %+v, want %+v", r.rcpts, rc)
	}
	if !strings.HasPrefix(r.body, "Received: from client (client.remote.org [192.0.2.9])\n\tby mx.example.com (tern) with ESMTP id "+id+"\n\tfor <bob@example.com>; ") {
		t.Errorf("no SMTP Received header:\n%s", r.body)
	}
	if strings.Contains(h.log.String(), "refusing a connection") {
		t.Errorf("cleanup refused its own uid:\n%s", h.log.String())
	}
}

func TestCleanupForwardKeepsContent(t *testing.T) {
	h := newMTA(t, "", nil)
	env := &envelope.Envelope{Sender: "alice@remote.org"}
	req := env.Record().Add("request", "submit").Add("origin", "forward").Add("rcpt", "carol@example.com")
	content := "Received: by elsewhere\nSubject: fwd\nMessage-ID:\n <orig.123@remote.org>\n\nas is\n"
	reply, c := h.call("cleanup", req, []byte(content))
	c.Close()
	if reply.Get("status") != "ok" {
		t.Fatalf("cleanup refused: %v", reply)
	}
	r := h.waitRequests(1)[0]
	if r.body != content {
		t.Errorf("forwarded content changed:\n%q\nwant\n%q", r.body, content)
	}
	h.waitEmpty()
	// TestForwardedCopyLogsMessageID: the forwarded copy's message-id
	// line was missing; Postfix's cleanup logs it for all mail.
	if id := reply.Get("id"); !strings.Contains(h.log.String(), id+": message-id=<orig.123@remote.org>\n") {
		t.Errorf("no message-id line for %q:\n%s", id, h.log.String())
	}
}

func TestMessageSizeLimit(t *testing.T) {
	h := newMTA(t, "message_size_limit = 1000\n", nil)
	body := "Subject: big\n\n" + strings.Repeat("0123456789abcde\n", 5000/16)
	req := append(ipc.Record{{Name: "request", Value: "submit"}}, rcpts("joe@example.com")...)
	reply, c := h.call("pickup", req, []byte(body))
	c.Close()
	if reply.Get("status") != "error" || reply.Get("dsn") != "5.3.4" || reply.Get("code") != "69" {
		t.Errorf("reply %v, want a 5.3.4 error", reply)
	}
	if !h.queueEmpty() {
		t.Error("an oversized message was queued")
	}
	// A message just under the limit passes.
	h.submit(rcpts("joe@example.com"), "Subject: small\n\nok\n")
	h.waitRequests(1)
	h.waitEmpty()
}

// TestSizeLimitLargeExcessIsPermanent pins a bug: once message_size_limit
// is reached, limitReader returns (0, nil) for every further read, and the
// bufio.Reader inside message.Cleanup gives up after 100 such reads with
// io.ErrNoProgress. A message more than ~100 body frames (6.4 MB) over the
// limit is then refused with a temporary 4.3.0 instead of 5.3.4, and the
// client retries it for ever.
func TestSizeLimitLargeExcessIsPermanent(t *testing.T) {
	h := newMTA(t, "message_size_limit = 1000\n", nil)
	body := "Subject: huge\n\n" + strings.Repeat(strings.Repeat("x", 1023)+"\n", 8<<10) // 8 MiB
	req := append(ipc.Record{{Name: "request", Value: "submit"}}, rcpts("joe@example.com")...)
	reply, c := h.call("pickup", req, []byte(body))
	c.Close()
	if reply.Get("status") != "error" || reply.Get("dsn") != "5.3.4" {
		t.Errorf("reply %v, want a 5.3.4 error", reply)
	}
	if !h.queueEmpty() {
		t.Error("an oversized message was queued")
	}
}

// TestMessageSizeLimitZeroIsUnlimited pins a bug: Postfix reads
// message_size_limit = 0 as "no limit", but limitReader starts with
// left = 0 and swallows the whole message.
func TestMessageSizeLimitZeroIsUnlimited(t *testing.T) {
	h := newMTA(t, "message_size_limit = 0\n", nil)
	req := append(ipc.Record{{Name: "request", Value: "submit"}}, rcpts("joe@example.com")...)
	reply, c := h.call("pickup", req, []byte("Subject: any size\n\nbody\n"))
	c.Close()
	if reply.Get("status") != "ok" {
		t.Fatalf("reply %v, want ok", reply)
	}
	r := h.waitRequests(1)[0]
	if !strings.Contains(r.body, "\nSubject: any size\n") || !strings.HasSuffix(r.body, "\n\nbody\n") {
		t.Errorf("content lost:\n%s", r.body)
	}
}

// writeMaildrop writes a maildrop file as sendmail does: the request frame,
// the body as data frames and the end frame.
func writeMaildrop(t *testing.T, dir, name string, req ipc.Record, body string) string {
	t.Helper()
	// As sendmail does: written under a tmp. name, which pickup passes
	// over, and renamed when complete. Written under its final name, a
	// file could be read half-written by a pickup pass already running
	// (the one at start), and quarantined: a flaky test under -race.
	path := filepath.Join(dir, "maildrop", name)
	tmp := filepath.Join(dir, "maildrop", "tmp."+name)
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		f.Close()
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}()
	req = append(ipc.Record{{Name: "request", Value: "submit"}}, req...)
	if err := ipc.WriteFrame(f, ipc.FrameRequest, req.Encode(nil)); err != nil {
		t.Fatal(err)
	}
	for len(body) > 0 {
		n := min(len(body), 7)
		if err := ipc.WriteFrame(f, ipc.FrameData, []byte(body[:n])); err != nil {
			t.Fatal(err)
		}
		body = body[n:]
	}
	if err := ipc.WriteFrame(f, ipc.FrameEnd, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMaildropAtStart(t *testing.T) {
	h := newMTA(t, "", nil)
	h.stop()
	path := writeMaildrop(t, h.dir, "1700000000000000000.42.aa", rcpts("joe@example.com").Add("sender", "cron@example.com"), "Subject: cron\n\noutput\n")
	tmp := filepath.Join(h.dir, "maildrop", "tmp.bb")
	if err := os.WriteFile(tmp, []byte("incomplete"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.start()
	r := h.waitRequests(1)[0]
	h.waitEmpty()
	if r.env.Sender != "cron@example.com" || r.rcpts[0].Address != "joe@example.com" || !strings.HasSuffix(r.body, "\n\noutput\n") {
		t.Errorf("delivered %+v %+v:\n%s", r.env, r.rcpts, r.body)
	}
	waitFor(t, "maildrop file removal", func() bool { _, err := os.Stat(path); return errors.Is(err, os.ErrNotExist) })
	if _, err := os.Stat(tmp); err != nil {
		t.Errorf("tmp.* file touched: %v", err)
	}
}

func TestMaildropWakeupAndCorrupt(t *testing.T) {
	h := newMTA(t, "", nil)
	bad := filepath.Join(h.dir, "maildrop", "1700000000000000001.1.bad")
	if err := os.WriteFile(bad, []byte("garbage, not frames"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeMaildrop(t, h.dir, "1700000000000000002.1.good", rcpts("ann"), "Subject: later\n\nx\n")
	h.trigger("wakeup")
	r := h.waitRequests(1)[0]
	h.waitEmpty()
	if r.rcpts[0].Address != "ann@example.com" || r.env.Sender != localSender(t) {
		t.Errorf("delivered %+v from %q", r.rcpts, r.env.Sender)
	}
	moved := filepath.Join(h.dir, "corrupt", "maildrop-1700000000000000001.1.bad")
	waitFor(t, "garbage moved to corrupt", func() bool { _, err := os.Stat(moved); return err == nil })
	// pickup removes a file once qmgr has the message, which may be after
	// its delivery.
	for _, p := range []string{bad, good} {
		waitFor(t, filepath.Base(p)+" gone from maildrop", func() bool { _, err := os.Stat(p); return errors.Is(err, os.ErrNotExist) })
	}
	h.waitLog("moved unreadable maildrop file")
}

func TestQmgrUnknownTrigger(t *testing.T) {
	h := newMTA(t, "", nil)
	reply, c := h.call("qmgr", ipc.Record{{Name: "request", Value: "explode"}}, nil)
	c.Close()
	if reply.Get("status") != "error" {
		t.Errorf("reply %v", reply)
	}
}

// TestTruncatedBodyNotQueued: a client that disconnects before the end of
// the body must not leave a (truncated) message behind.
func TestTruncatedBodyNotQueued(t *testing.T) {
	for _, service := range []string{"pickup", "cleanup"} {
		t.Run(service, func(t *testing.T) {
			h := newMTA(t, "", nil)
			c, err := ipc.Dial(h.socket(service), waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			req := append(ipc.Record{{Name: "request", Value: "submit"}, {Name: "sender", Value: "a@example.com"}}, rcpts("joe@example.com")...)
			if err := c.WriteFrame(ipc.FrameRequest, req.Encode(nil)); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteFrame(ipc.FrameData, []byte("Subject: cut\n\nthe first half")); err != nil {
				t.Fatal(err)
			}
			if err := c.Flush(); err != nil {
				t.Fatal(err)
			}
			c.Close()
			h.waitLog("message not accepted")
			if !h.queueEmpty() || len(h.agent.requests()) != 0 {
				t.Error("a truncated message was queued")
			}
		})
	}
}
