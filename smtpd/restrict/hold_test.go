package restrict

import (
	"context"
	"testing"
)

func TestHoldAndDiscardActions(t *testing.T) {
	access := "inline:{ held@foreign.net=HOLD, {review@foreign.net=HOLD quarantined for review}, " +
		"dropped@example.com=DISCARD, {silent@example.com=DISCARD spam trap}, victim@example.com=REJECT }"
	conf := "smtpd_sender_restrictions = check_sender_access " + access + "\n" +
		"smtpd_recipient_restrictions = check_recipient_access " + access + ", permit_mynetworks, reject\n"
	tests := []struct {
		sender, rcpt         string
		reply, hold, discard string
	}{
		// HOLD goes on to the next restriction, which decides.
		{sender: "held@foreign.net", rcpt: "user@example.com", reply: "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied",
			hold: ""},
		{sender: "held@foreign.net", rcpt: "dropped@example.com",
			hold:    "<held@foreign.net>: Sender address triggers HOLD action",
			discard: "<dropped@example.com>: Recipient address triggers DISCARD action"},
		{sender: "review@foreign.net", rcpt: "silent@example.com",
			hold:    "<review@foreign.net>: Sender address quarantined for review",
			discard: "<silent@example.com>: Recipient address spam trap"},
		// A reject wins over an earlier HOLD: nothing to hold.
		{sender: "held@foreign.net", rcpt: "victim@example.com",
			reply: "554 5.7.1 <victim@example.com>: Recipient address rejected: Access denied"},
		// DISCARD permits: the final reject of the list is not reached.
		{sender: "s@foreign.net", rcpt: "dropped@example.com",
			discard: "<dropped@example.com>: Recipient address triggers DISCARD action"},
	}
	for _, tt := range tests {
		w := newWorld()
		w.known["dropped@example.com"], w.known["silent@example.com"] = true, true
		c := newChecker(t, conf, w)
		f := foreignFacts()
		f.Sender, f.Recipient = tt.sender, tt.rcpt
		r := c.Check(context.Background(), Rcpt, f)
		if got := replyOf(r); got != tt.reply || r.Hold != tt.hold || r.Discard != tt.discard {
			t.Errorf("%s -> %s: reply %q hold %q discard %q; want %q %q %q",
				tt.sender, tt.rcpt, got, r.Hold, r.Discard, tt.reply, tt.hold, tt.discard)
		}
	}
}

func TestFilterAction(t *testing.T) {
	conf := "smtpd_sender_restrictions = check_sender_access inline:{ {scan@foreign.net=FILTER smtp-amavis:[127.0.0.1]:10024}, {bad@foreign.net=FILTER nocolon} }\n" +
		"smtpd_recipient_restrictions = permit\n"
	for sender, want := range map[string]string{
		"scan@foreign.net": "smtp-amavis:[127.0.0.1]:10024",
		"bad@foreign.net":  "", // needs transport:destination: warned and skipped
		"s@foreign.net":    "",
	} {
		w := newWorld()
		c := newChecker(t, conf, w)
		f := foreignFacts()
		f.Sender = sender
		r := c.Check(context.Background(), Rcpt, f)
		if replyOf(r) != "" || r.Filter != want {
			t.Errorf("%s: reply %q filter %q, want filter %q", sender, replyOf(r), r.Filter, want)
		}
		if want != "" && r.FilterLog != "<scan@foreign.net>: Sender address triggers FILTER "+want {
			t.Errorf("%s: filter log %q", sender, r.FilterLog)
		}
	}
}
