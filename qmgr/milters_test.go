package qmgr

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/queue"
)

// subjectMilter decides by the Subject: "reject", "discard", "hold";
// otherwise it adds a header.
type subjectMilter struct {
	milter.NoOpMilter
	subject string
}

func (s *subjectMilter) Header(name, value string, m milter.Modifier) (*milter.Response, error) {
	if strings.EqualFold(name, "Subject") {
		s.subject = value
	}
	return milter.RespContinue, nil
}

func (s *subjectMilter) EndOfMessage(m milter.Modifier) (*milter.Response, error) {
	switch s.subject {
	case "reject":
		return milter.RejectWithCodeAndReason(550, "5.7.1 not from cron")
	case "discard":
		return milter.RespDiscard, nil
	case "hold":
		_ = m.Quarantine("look at it")
	}
	_ = m.AddHeader("X-Milter", "seen "+m.Get(milter.MacroQueueId)+" "+m.Get(milter.MacroRFC1413AuthInfo))
	return milter.RespAccept, nil
}

// startSubjectMilter serves subjectMilter on a loopback port until the
// test ends and returns its address.
func startSubjectMilter(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := milter.NewServer(milter.WithDynamicMilter(func(uint32, milter.OptAction, milter.OptProtocol, milter.DataSize) milter.Milter {
		return &subjectMilter{}
	}), milter.WithActions(milter.OptAddHeader|milter.OptQuarantine))
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

func TestNonSMTPDMilters(t *testing.T) {
	h := newMTA(t, "non_smtpd_milters = inet:"+startSubjectMilter(t)+"\n", nil)

	reply, c := h.call("pickup", append(rcpts("joe@example.com"), ipc.Attr{Name: "request", Value: "submit"}), []byte("Subject: reject\n\nx\n"))
	c.Close()
	if reply.Get("status") != "error" || reply.Get("dsn") != "5.7.1" || reply.Get("text") != "not from cron" || reply.Get("code") != "65" {
		t.Errorf("reject: %v", reply)
	}
	h.submit(rcpts("joe@example.com"), "Subject: discard\n\nx\n")
	id := h.submit(rcpts("joe@example.com"), "Subject: hold\n\nx\n")
	h.waitState(id, queue.Hold)
	fine := h.submit(rcpts("joe@example.com"), "Subject: fine\n\nbody\n")
	body := h.waitRequests(1)[0].body
	// The milter saw the queue id and the client (_) as macros.
	if !strings.Contains(body, "\nX-Milter: seen "+fine+" localhost [127.0.0.1]\n") || !strings.Contains(body, "Subject: fine") {
		t.Errorf("delivered:\n%s", body)
	}
	h.waitLog(": milter-discard: END-OF-MESSAGE from local")
	h.waitLog(": milter-hold: END-OF-MESSAGE from local")
	if n := len(h.agent.requests()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

// TestInternalMailFilterBounce: internal_mail_filter_classes = bounce,
// which DKIM guides set so that opendkim signs bounces, had no effect.
// Delivery status notifications now go through non_smtpd_milters (the
// milter's header is in the bounce, the original message and report
// intact, and no Received header added, as a bounce has none) and the
// header checks (a HOLD holds the bounce); without the class they do not.
func TestInternalMailFilterBounce(t *testing.T) {
	addr := startSubjectMilter(t)
	table := filepath.Join(t.TempDir(), "checks")
	if err := os.WriteFile(table, []byte("/^Subject: .*Returned to Sender/ HOLD bounce held\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		conf     string
		signed   bool // the milter's header is in the bounce
		heldBack bool // the header check held it
	}{
		{"non_smtpd_milters = inet:" + addr + "\n", false, false},
		{"non_smtpd_milters = inet:" + addr + "\ninternal_mail_filter_classes = bounce\n", true, false},
		{"header_checks = regexp:" + table + "\ninternal_mail_filter_classes = bounce\n", false, true},
	} {
		h := newMTA(t, tt.conf, &fakeAgent{answer: bounceAnswer})
		// The original comes from sendmail, so the milter marks it too;
		// only the bounce's own header tells whether it saw the bounce.
		h.submit(rcpts("nobody@example.com").Add("sender", "alice@example.com"), "Subject: lost\n\nbody text\n")
		if tt.heldBack {
			h.waitLog("(queue hold)")
			if n := len(h.agent.requests()); n != 1 {
				t.Errorf("%q: %d deliveries, want the failed one only", tt.conf, n)
			}
			h.stop()
			continue
		}
		reqs := h.waitRequests(2)
		nd := notifications(reqs, "")
		if len(nd) != 1 {
			t.Fatalf("%q: %d notifications", tt.conf, len(nd))
		}
		rep := parseReport(t, nd[0].body)
		if got := rep.header.Get("X-Milter") != ""; got != tt.signed {
			t.Errorf("%q: milter header present %v, want %v:\n%s", tt.conf, got, tt.signed, nd[0].body)
		}
		if rep.header.Get("Received") != "" {
			t.Errorf("%q: the bounce got a Received header:\n%s", tt.conf, nd[0].body)
		}
		if !strings.Contains(rep.parts["message/delivery-status"], "Status: 5.1.1") || !strings.Contains(nd[0].body, "body text") {
			t.Errorf("%q: the report or the returned message is damaged:\n%s", tt.conf, nd[0].body)
		}
		h.stop()
	}
}
