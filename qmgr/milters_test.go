package qmgr

import (
	"net"
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

func TestNonSMTPDMilters(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := milter.NewServer(milter.WithDynamicMilter(func(uint32, milter.OptAction, milter.OptProtocol, milter.DataSize) milter.Milter {
		return &subjectMilter{}
	}), milter.WithActions(milter.OptAddHeader|milter.OptQuarantine))
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	h := newMTA(t, "non_smtpd_milters = inet:"+l.Addr().String()+"\n", nil)

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
