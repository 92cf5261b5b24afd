package tests

import (
	"strings"
	"testing"
	"time"
)

// TestExpiredMessageBouncesThroughTheSuite: a message that cannot be
// delivered (its next hop refuses connections) stays queued until
// maximal_queue_lifetime, then returns to its sender as a failure that
// names the last problem, as Postfix does.
func TestExpiredMessageBouncesThroughTheSuite(t *testing.T) {
	sender := localUser(t)
	dead := "127.0.0.1:" + freePort(t)
	in := newInstance(t, options{
		master: testMasterCF + "smtp unix - - n - - smtp\n",
		main: []string{
			"transport_maps = inline:{ dead.example=smtp:[" + strings.Replace(dead, ":", "]:", 1) + " }",
			"maximal_queue_lifetime = 3s",
			"bounce_queue_lifetime = 3s",
		},
	})
	in.start()
	if code, out := in.sendmail("Subject: doomed\n\nexpiry body\n", "-f", sender+"@example.tst", "x@dead.example"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitLog("status=deferred (connect to 127.0.0.1[127.0.0.1]", deliveryTimeout)
	in.waitLog("status=expired, returned to sender", 30*time.Second)
	waitFor(t, deliveryTimeout, "the bounce", func() bool { return strings.Contains(in.mbox(sender), "Action: failed") })
	box := in.mbox(sender)
	for _, want := range []string{"Final-Recipient: rfc822; x@dead.example", "Connection refused", "expiry body"} {
		if !strings.Contains(box, want) {
			t.Errorf("the bounce lacks %q:\n%s", want, box)
		}
	}
	// The bounce's own removal follows its delivery by up to 100 ms.
	waitFor(t, deliveryTimeout, "an empty queue", func() bool {
		return strings.Contains(in.run("mailq"), "Mail queue is empty")
	})
}
