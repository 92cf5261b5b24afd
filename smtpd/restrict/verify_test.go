package restrict

import "testing"

// TestRejectUnverified: reject_unverified_sender and
// reject_unverified_recipient were refused. Deliverable passes;
// undeliverable is rejected with unverified_*_reject_code (450 by
// default, as in Postfix), a probe's temporary failure with
// unverified_*_defer_code; no answer yet, or no service, turns a later
// permit into 450 (defer_if_permit).
func TestRejectUnverified(t *testing.T) {
	w := func(w *world) {
		w.verify = map[string]string{"user@example.com": VerifyDeliverable, "gone@example.com": VerifyUndeliverable,
			"busy@example.com": VerifyDeferred, "down@example.com": "err", "s@foreign.net": VerifyUndeliverable}
	}
	rcptConf := "smtpd_recipient_restrictions = reject_unverified_recipient, permit\n"
	runCases(t, []checkCase{
		{name: "deliverable", conf: rcptConf, stage: Rcpt, w: w},
		{name: "undeliverable", conf: rcptConf, stage: Rcpt, w: w, mod: rcpt("gone@example.com"), word: "reject_unverified_recipient",
			want: "450 4.1.1 <gone@example.com>: Recipient address rejected: undeliverable address: host mx.example.com said: undeliverable"},
		{name: "undeliverable with 550", conf: rcptConf + "unverified_recipient_reject_code = 550\n", stage: Rcpt, w: w, mod: rcpt("gone@example.com"),
			want: "550 5.1.1 <gone@example.com>: Recipient address rejected: undeliverable address: host mx.example.com said: undeliverable"},
		{name: "own reason", conf: rcptConf + "unverified_recipient_reject_reason = Address lookup failed\n", stage: Rcpt, w: w, mod: rcpt("gone@example.com"),
			want: "450 4.1.1 <gone@example.com>: Recipient address rejected: undeliverable address: Address lookup failed"},
		{name: "probe deferred", conf: rcptConf, stage: Rcpt, w: w, mod: rcpt("busy@example.com"),
			want: "450 4.1.1 <busy@example.com>: Recipient address rejected: unverified address: host mx.example.com said: deferred"},
		{name: "in progress", conf: rcptConf, stage: Rcpt, w: w, mod: rcpt("new@example.com"),
			want: "450 4.1.1 <new@example.com>: Recipient address rejected: unverified address: Address verification in progress"},
		{name: "in progress then reject", conf: "smtpd_recipient_restrictions = reject_unverified_recipient, reject\n", stage: Rcpt, w: w,
			mod: rcpt("new@example.com"), want: "554 5.7.1 <new@example.com>: Recipient address rejected: Access denied"},
		{name: "service down", conf: rcptConf, stage: Rcpt, w: w, mod: rcpt("down@example.com"),
			want: "450 4.1.1 <down@example.com>: Recipient address rejected: unverified address: address verification failed"},
		{name: "sender", conf: "smtpd_sender_restrictions = reject_unverified_sender\n", stage: Rcpt, w: w,
			mod:  func(f *Facts) { f.Sender = "s@foreign.net" },
			want: "450 4.1.7 <s@foreign.net>: Sender address rejected: undeliverable address: host mx.example.com said: undeliverable"},
		{name: "null sender not verified", conf: "smtpd_sender_restrictions = reject_unverified_sender\n", stage: Rcpt, w: w,
			mod: func(f *Facts) { f.Sender = "" }},
	})
}
