package qmgr

import (
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
)

// report is a parsed multipart/report notification.
type report struct {
	header mail.Header
	parts  map[string]string // content type -> part body
}

func parseReport(t *testing.T, content string) report {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(content))
	if err != nil {
		t.Fatalf("notification does not parse: %v\n%s", err, content)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("content type %q (%v)", msg.Header.Get("Content-Type"), err)
	}
	rep := report{header: msg.Header, parts: map[string]string{}}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; i < 10; i++ {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		rep.parts[ct] = string(b)
	}
	return rep
}

// bounceAnswer bounces recipients whose local part starts with "nobody"
// and delivers the others.
func bounceAnswer(_ int, r agentReq) []agent.Result {
	out := allOK(r)
	for i, rc := range r.rcpts {
		if strings.HasPrefix(rc.Address, "nobody") {
			out[i] = agent.Bouncef("5.1.1", "unknown user: %q", strings.Split(rc.Address, "@")[0])
			out[i].Relay = "local"
		}
	}
	return out
}

// notifications returns the requests that carry mail from sender.
func notifications(reqs []agentReq, sender string) []agentReq {
	var out []agentReq
	for _, r := range reqs {
		if r.env.Sender == sender {
			out = append(out, r)
		}
	}
	return out
}

func TestBounceToSender(t *testing.T) {
	h := newMTA(t, "", &fakeAgent{answer: bounceAnswer})
	id := h.submit(rcpts("nobody@example.com", "ok@example.com").Add("sender", "alice@example.com"), "Subject: lost\n\nbody text\n")
	reqs := h.waitRequests(3)
	h.waitEmpty()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want the two recipients and one bounce", len(reqs))
	}
	nd := notifications(reqs, "")
	if len(nd) != 1 {
		t.Fatalf("%d notifications from <>", len(nd))
	}
	n := nd[0]
	if len(n.rcpts) != 1 || n.rcpts[0].Address != "alice@example.com" {
		t.Errorf("notification to %+v", n.rcpts)
	}
	rep := parseReport(t, n.body)
	if from := rep.header.Get("From"); !strings.Contains(from, "MAILER-DAEMON@mx.example.com") {
		t.Errorf("From: %q", from)
	}
	ds := rep.parts["message/delivery-status"]
	for _, s := range []string{"Status: 5.1.1", "Action: failed", "nobody@example.com", id} {
		if !strings.Contains(ds, s) {
			t.Errorf("delivery status lacks %q:\n%s", s, ds)
		}
	}
	if strings.Contains(ds, "ok@example.com") {
		t.Errorf("the delivered recipient is reported:\n%s", ds)
	}
	h.waitLog(id + ": sender non-delivery notification: ")
	// The notification's message-id line comes first, as Postfix's
	// cleanup writes it before bounce names the notification.
	nid := n.env.ID
	want := nid + ": message-id=" + rep.header.Get("Message-Id") + "\n"
	if log := h.log.String(); rep.header.Get("Message-Id") == "" || !strings.Contains(log, want) ||
		strings.Index(log, want) > strings.Index(log, id+": sender non-delivery notification: "+nid) {
		t.Errorf("want %q before the notification line:\n%s", want, log)
	}
}

func TestBounceOfNullSender(t *testing.T) {
	h := newMTA(t, "", &fakeAgent{answer: bounceAnswer})
	h.submit(rcpts("nobody@example.com").Add("sender", ""), "Subject: from <>\n\nx\n")
	reqs := h.waitRequests(2)
	h.waitEmpty()
	nd := notifications(reqs, "double-bounce@example.com")
	if len(nd) != 1 || len(nd[0].rcpts) != 1 || nd[0].rcpts[0].Address != "postmaster@example.com" {
		t.Fatalf("want one notice from double-bounce@example.com to postmaster@example.com, got %+v", reqs)
	}
	ds := parseReport(t, nd[0].body).parts["message/delivery-status"]
	if !strings.Contains(ds, "Status: 5.1.1") {
		t.Errorf("delivery status:\n%s", ds)
	}
	h.waitLog("postmaster non-delivery notification")
}

func TestBounceOfDoubleBounce(t *testing.T) {
	h := newMTA(t, "", &fakeAgent{answer: bounceAnswer})
	id := h.submit(rcpts("nobody@example.com").Add("sender", "double-bounce@example.com"), "Subject: loop\n\nx\n")
	h.waitRequests(1)
	h.waitEmpty()
	h.waitLog(id + ": discarding undeliverable postmaster notification")
	if n := len(h.agent.requests()); n != 1 {
		t.Errorf("%d requests, want only the failed one", n)
	}
}

func TestNotifyNeverSendsNoBounce(t *testing.T) {
	h := newMTA(t, "", &fakeAgent{answer: bounceAnswer})
	id := h.submit(rcpts("nobody@example.com").Add("sender", "alice@example.com").Add("notify", "NEVER"), "Subject: quiet\n\nx\n")
	h.waitRequests(1)
	h.waitEmpty()
	h.waitLog(id + ": removed")
	if n := len(h.agent.requests()); n != 1 {
		t.Errorf("%d requests, want no notification", n)
	}
	if strings.Contains(h.log.String(), "non-delivery notification") {
		t.Errorf("a notification was logged:\n%s", h.log.String())
	}
}

func TestExpiryBouncesPending(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		if r.env.Sender == "" {
			return allOK(r)
		}
		return deferAll(r, "4.4.1", "connection refused")
	}}
	h := newMTA(t, "maximal_queue_lifetime = 0\n", fa)
	id := h.submit(rcpts("far@example.com").Add("sender", "alice@example.com"), "Subject: old\n\nx\n")
	reqs := h.waitRequests(2)
	h.waitEmpty()
	h.waitLog(id + ": from=<alice@example.com>, status=expired, returned to sender")
	nd := notifications(reqs, "")
	if len(nd) != 1 || nd[0].rcpts[0].Address != "alice@example.com" {
		t.Fatalf("notifications %+v", nd)
	}
	ds := parseReport(t, nd[0].body).parts["message/delivery-status"]
	for _, s := range []string{"Status: 5.4.1", "far@example.com", "connection refused"} {
		if !strings.Contains(ds, s) {
			t.Errorf("delivery status lacks %q:\n%s", s, ds)
		}
	}
}

func TestHopcountBouncesWithoutDelivery(t *testing.T) {
	h := newMTA(t, "", nil)
	var b strings.Builder
	for i := 0; i < 60; i++ {
		b.WriteString("Received: from hop.example by other.example; Mon, 1 Jan 2024 00:00:00 +0000\n")
	}
	b.WriteString("Subject: loop\n\nx\n")
	id := h.submit(rcpts("joe@example.com").Add("sender", "alice@example.com"), b.String())
	reqs := h.waitRequests(1)
	h.waitEmpty()
	if len(reqs) != 1 || reqs[0].env.Sender != "" || reqs[0].rcpts[0].Address != "alice@example.com" {
		t.Fatalf("want only the bounce to alice, got %+v", reqs)
	}
	ds := parseReport(t, reqs[0].body).parts["message/delivery-status"]
	if !strings.Contains(ds, "Status: 5.4.6") || !strings.Contains(ds, "joe@example.com") {
		t.Errorf("delivery status:\n%s", ds)
	}
	h.waitLog(id + ": sender non-delivery notification")
}

// TestHopcountBounceIsLogged pins a gap: recipients failed at cleanup for
// too many hops get no "status=bounced" delivery line, unlike Postfix, so
// log-based tools never see the recipient fail.
func TestHopcountBounceIsLogged(t *testing.T) {
	h := newMTA(t, "", nil)
	var b strings.Builder
	for i := 0; i < 60; i++ {
		b.WriteString("Received: from hop.example by other.example; Mon, 1 Jan 2024 00:00:00 +0000\n")
	}
	b.WriteString("\nx\n")
	id := h.submit(rcpts("joe@example.com").Add("sender", "alice@example.com"), b.String())
	h.waitRequests(1)
	h.waitEmpty()
	h.waitLog(id + ": removed")
	if !strings.Contains(h.log.String(), id+": to=<joe@example.com>, relay=none, ") || !strings.Contains(h.log.String(), "dsn=5.4.6, status=bounced") {
		t.Errorf("no bounce line for the recipient:\n%s", h.log.String())
	}
}

func TestErrorAndDiscardTransports(t *testing.T) {
	h := newMTA(t, "transport_maps = inline:{ {blocked.example=error:5.7.1 go away}, devnull.example=discard:quietly }\n", nil)
	id := h.submit(rcpts("x@blocked.example", "y@devnull.example").Add("sender", "alice@example.com"), "Subject: e\n\nx\n")
	reqs := h.waitRequests(1)
	h.waitEmpty()
	if len(reqs) != 1 || reqs[0].env.Sender != "" {
		t.Fatalf("want only the bounce, got %+v", reqs)
	}
	ds := parseReport(t, reqs[0].body).parts["message/delivery-status"]
	if !strings.Contains(ds, "Status: 5.7.1") || strings.Contains(ds, "devnull") {
		t.Errorf("delivery status:\n%s", ds)
	}
	log := h.log.String()
	for _, s := range []string{
		id + ": to=<x@blocked.example>, relay=none, ",
		"dsn=5.7.1, status=bounced (go away)",
		id + ": to=<y@devnull.example>, relay=none, ",
		"status=sent (discarded: quietly)",
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}

func TestTransportLookupFailureDefers(t *testing.T) {
	h := newMTA(t, "transport_maps = fail:broken\nminimal_backoff_time = 1h\nmaximal_backoff_time = 1h\n", nil)
	id := h.submit(rcpts("joe@remote.org"), "Subject: t\n\nx\n")
	h.waitLog(id + ": to=<joe@remote.org>, relay=none, ")
	h.waitLog("status=deferred (transport table lookup failure")
	if n := len(h.agent.requests()); n != 0 {
		t.Errorf("%d deliveries despite the lookup failure", n)
	}
}

// TestNotifySuccessSendsDeliveryNotice: NOTIFY=SUCCESS gives the sender a
// "delivered" report for local delivery and a "relayed" one for a hand-off
// to another server (the fake agent reports a remote relay for one).
func TestNotifySuccessSendsDeliveryNotice(t *testing.T) {
	fa := &fakeAgent{answer: func(n int, r agentReq) []agent.Result {
		out := allOK(r)
		for i, rc := range r.rcpts {
			if strings.HasPrefix(rc.Address, "remote") {
				out[i].Relay, out[i].Relayed = "mx.example.net[192.0.2.1]:25", true
			}
			// A next hop that announced DSN took the request over.
			out[i].DSNPassed = strings.HasPrefix(rc.Address, "dsnhop")
		}
		return out
	}}
	h := newMTA(t, "", fa)
	id := h.submit(rcpts("here@example.com", "remote@example.com", "dsnhop@example.com", "quiet@example.com").
		Add("sender", "alice@example.com").Add("notify", "SUCCESS"), "Subject: hi\n\nx\n")
	h.waitRequests(5) // one per local recipient, and the notice
	h.waitEmpty()
	h.waitLog(id + ": removed")
	reqs := h.agent.requests()
	nd := notifications(reqs, "")
	if len(nd) != 1 || nd[0].rcpts[0].Address != "alice@example.com" {
		t.Fatalf("notifications %+v", nd)
	}
	ds := parseReport(t, nd[0].body).parts["message/delivery-status"]
	for _, s := range []string{"Action: delivered", "rfc822; here@example.com", "Action: relayed", "rfc822; remote@example.com"} {
		if !strings.Contains(ds, s) {
			t.Errorf("delivery status lacks %q:\n%s", s, ds)
		}
	}
	if strings.Contains(ds, "dsnhop@example.com") {
		t.Errorf("a recipient whose next hop took the DSN request was reported:\n%s", ds)
	}
}

// TestPostmasterCopyOfBounce: notify_classes = bounce was reported as
// having no effect. The sender's bounce is also copied, headers only and
// from the double-bounce sender, to bounce_notice_recipient.
func TestPostmasterCopyOfBounce(t *testing.T) {
	h := newMTA(t, "notify_classes = bounce, resource, software\nbounce_notice_recipient = mailadmin\n", &fakeAgent{answer: bounceAnswer})
	id := h.submit(rcpts("nobody@example.com").Add("sender", "alice@example.com"), "Subject: lost\n\nsecret body text\n")
	reqs := h.waitRequests(3)
	h.waitEmpty()
	copies := notifications(reqs, "double-bounce@example.com")
	if len(copies) != 1 || len(copies[0].rcpts) != 1 || copies[0].rcpts[0].Address != "mailadmin@example.com" {
		t.Fatalf("want one copy from double-bounce@example.com to mailadmin@example.com, got %+v", reqs)
	}
	rep := parseReport(t, copies[0].body)
	if s := rep.header.Get("Subject"); s != "Postmaster Copy: Undelivered Mail" {
		t.Errorf("Subject: %q", s)
	}
	if strings.Contains(copies[0].body, "secret body text") || !strings.Contains(copies[0].body, "Subject: lost") {
		t.Errorf("the copy is not headers only:\n%s", copies[0].body)
	}
	own := notifications(reqs, "")
	if len(own) != 1 {
		t.Fatalf("the sender's own bounce is missing")
	}
	h.waitLog(id + ": postmaster non-delivery notification: ")
	// TestNotificationsHaveTheirOwnMessageID: the sender's bounce and
	// the postmaster's copy had one Message-Id (the original's queue id
	// and the kind); each now has its own queue id's, as in Postfix.
	ownID, copyID := parseReport(t, own[0].body).header.Get("Message-Id"), rep.header.Get("Message-Id")
	if ownID == copyID || !strings.Contains(ownID, "."+own[0].env.ID+"@mx.example.com>") || !strings.Contains(copyID, "."+copies[0].env.ID+"@mx.example.com>") {
		t.Errorf("Message-Ids %q (sender's, queued as %s) and %q (copy, %s), want each with its own queue id", ownID, own[0].env.ID, copyID, copies[0].env.ID)
	}
}
