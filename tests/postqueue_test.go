package tests

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// TestPostqueue: monitoring scripts and exporters call postqueue -p and
// postqueue -j; tern answered neither. Two deferred messages, one of them
// then held, are listed in text and as Postfix's JSON objects, and
// postqueue -f asks for another attempt.
func TestPostqueue(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t, "minimal_backoff_time = 1h", "maximal_backoff_time = 2h", "queue_run_delay = 1h")
	first, second := rcpt+"@broken.tst", "other@broken.tst"
	for _, to := range []string{first, second} {
		if code, out := p.sender.sendmail("Subject: to "+to+"\n\nbody\n", "-f", "alice@sender.tst", to); code != 0 {
			t.Fatalf("sendmail: %d %s", code, out)
		}
	}
	ids := deferredIDs(t, p.sender, first, second)
	p.sender.run("tern", "queue", "hold", ids[second])
	p.sender.waitLog(ids[second]+": placed on hold", 10*time.Second)

	if out := p.sender.run("tern", "postqueue", "-p"); !strings.Contains(out, ids[first]) || !strings.Contains(out, ids[second]+"!") {
		t.Errorf("postqueue -p does not list both messages, the second held:\n%s", out)
	}
	type entry struct {
		QueueName   string `json:"queue_name"`
		QueueID     string `json:"queue_id"`
		ArrivalTime int64  `json:"arrival_time"`
		MessageSize int64  `json:"message_size"`
		Sender      string `json:"sender"`
		Recipients  []struct {
			Address     string `json:"address"`
			DelayReason string `json:"delay_reason"`
		} `json:"recipients"`
	}
	got := map[string]entry{}
	sc := bufio.NewScanner(strings.NewReader(p.sender.run("tern", "postqueue", "-j")))
	for sc.Scan() {
		var e entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("postqueue -j line %q: %v", sc.Text(), err)
		}
		got[e.QueueID] = e
	}
	for to, name := range map[string]string{first: "deferred", second: "hold"} {
		e, ok := got[ids[to]]
		switch {
		case !ok:
			t.Errorf("postqueue -j lacks %s: %v", ids[to], got)
		case e.QueueName != name || e.Sender != "alice@sender.tst" || e.MessageSize <= 0 || e.ArrivalTime < time.Now().Add(-time.Hour).Unix():
			t.Errorf("postqueue -j for %s: %+v, want queue %s", to, e, name)
		case len(e.Recipients) != 1 || e.Recipients[0].Address != to || e.Recipients[0].DelayReason == "":
			t.Errorf("postqueue -j recipients for %s: %+v, want it with its delay reason", to, e.Recipients)
		}
	}
	// postqueue -i flushed the whole queue; now only the message named.
	p.sender.run("tern", "queue", "release", ids[second])
	p.dns.SetBehavior("other.tst", mxtest.ServFail)
	third := "third@other.tst"
	if code, out := p.sender.sendmail("Subject: third\n\nbody\n", "-f", "alice@sender.tst", third); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	ids[third] = deferredIDs(t, p.sender, third)[third]
	attempts := func(id string) int { return strings.Count(p.sender.log(), id+": to=<") }
	firstBefore, thirdBefore := attempts(ids[first]), attempts(ids[third])
	p.sender.run("tern", "postqueue", "-i", ids[first])
	waitFor(t, deliveryTimeout, "another attempt of "+ids[first]+" after postqueue -i", func() bool {
		return attempts(ids[first]) > firstBefore
	})
	p.sender.waitDeferred(ids[first]) // a wrongly flushed third would have been tried by then
	if attempts(ids[third]) != thirdBefore {
		t.Errorf("postqueue -i %s also flushed %s", ids[first], ids[third])
	}
	// -s flushes the mail of one domain: the third message's.
	p.sender.run("tern", "postqueue", "-s", "other.tst")
	waitFor(t, deliveryTimeout, "another attempt of "+ids[third]+" after postqueue -s", func() bool {
		return attempts(ids[third]) > thirdBefore
	})
	before := strings.Count(p.sender.log(), "status=deferred")
	p.sender.run("tern", "postqueue", "-f")
	waitFor(t, deliveryTimeout, "another attempt after postqueue -f", func() bool {
		return strings.Count(p.sender.log(), "status=deferred") > before
	})
}
