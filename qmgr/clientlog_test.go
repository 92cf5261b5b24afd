package qmgr

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
)

// TestClientLineBeforeQueueManagerLines pins a log-order bug: smtpd
// logged "ID: client=..." once qmgr had answered with the queue id, by
// when qmgr had often logged the message's message-id= and from= lines,
// and sometimes its delivery (CI failed on a test that expected the line
// once the mail was in the mailbox). Postfix's smtpd logs it first. qmgr
// now writes smtpd's line, under smtpd's name and process id, as it
// queues the message, before its own. The name must look like a daemon's,
// and only cleanup's clients (tern's daemons) have such lines written:
// sendmail, through pickup, cannot.
func TestClientLineBeforeQueueManagerLines(t *testing.T) {
	h := newMTA(t, "", nil)
	env := &envelope.Envelope{Sender: "alice@remote.org", ClientName: "client.remote.org", ClientAddr: "192.0.2.9", Helo: "client", Protocol: "ESMTPA"}
	body := []byte("Message-ID: <m1@remote.org>\nSubject: hi\n\nbody\n")
	submit := func(service string, req ipc.Record) string {
		t.Helper()
		reply, c := h.call(service, req, body)
		c.Close()
		if reply.Get("status") != "ok" {
			t.Fatalf("%s refused: %v", service, reply)
		}
		id := reply.Get("id")
		h.waitLog(id + ": removed")
		return id
	}
	line := "client=client.remote.org[192.0.2.9], sasl_method=PLAIN, sasl_username=alice"
	pid := os.Getpid()
	for _, tt := range []struct{ program, want string }{
		{"tern/submission/smtpd", "tern/submission/smtpd"},
		{"tern/smtpd[1]: forged", "tern/smtpd"},
		{"", "tern/smtpd"},
	} {
		req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "bob@example.com"})).
			Add("log_client", line).Add("log_program", tt.program)
		id := submit("cleanup", req)
		log := h.log.String()
		client := strings.Index(log, fmt.Sprintf("%s[%d]: %s: %s\n", tt.want, pid, id, line))
		if client < 0 {
			t.Fatalf("program %q: no client= line written as %s[%d]:\n%s", tt.program, tt.want, pid, log)
		}
		for _, later := range []string{id + ": message-id=<m1@remote.org>", id + ": from=<alice@remote.org>", id + ": to=<bob@example.com>", id + ": removed"} {
			if i := strings.Index(log, later); i < client {
				t.Errorf("program %q: %q is logged before the client= line:\n%s", tt.program, later, log)
			}
		}
	}
	id := submit("pickup", ipc.Record{{Name: "request", Value: "submit"}, {Name: "rcpt", Value: "bob@example.com"},
		{Name: "log_client", Value: "client=forged[192.0.2.1]"}, {Name: "log_program", Value: "tern/smtpd"}})
	if strings.Contains(h.log.String(), id+": client=") {
		t.Errorf("a sendmail submission had a client= line written:\n%s", h.log.String())
	}
}
