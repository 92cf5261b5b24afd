package restrict

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
)

func TestParseAccessResult(t *testing.T) {
	cases := []struct {
		in   string
		want accessAction
	}{
		{"OK", accessAction{kind: actOK, word: "OK"}},
		{"relay", accessAction{kind: actOK, word: "relay"}},
		{"12345", accessAction{kind: actOK, word: "12345"}},
		{"550", accessAction{kind: actOK, word: "550"}},
		{"DUNNO whatever", accessAction{kind: actDunno, word: "DUNNO", text: "whatever"}},
		{"REJECT", accessAction{kind: actReject, word: "REJECT"}},
		{"reject go away", accessAction{kind: actReject, word: "reject", text: "go away"}},
		{"REJECT 5.7.2 go away", accessAction{kind: actReject, word: "REJECT", dsn: "5.7.2", text: "go away"}},
		{"DEFER\tlater", accessAction{kind: actDefer, word: "DEFER", text: "later"}},
		{"550 5.1.1 no such user", accessAction{kind: actCode, word: "550", code: 550, dsn: "5.1.1", text: "no such user"}},
		{"450 try later", accessAction{kind: actCode, word: "450", code: 450, text: "try later"}},
		{"250 fine", accessAction{kind: actRestrictions, word: "250", text: "250 fine"}},
		{"DEFER_IF_PERMIT maybe", accessAction{kind: actDeferIfPermit, word: "DEFER_IF_PERMIT", text: "maybe"}},
		{"defer_if_reject", accessAction{kind: actDeferIfReject, word: "defer_if_reject"}},
		{"WARN look", accessAction{kind: actWarn, word: "WARN", text: "look"}},
		{"INFO", accessAction{kind: actInfo, word: "INFO"}},
		{"DISCARD spam", accessAction{kind: actDiscard, word: "DISCARD", text: "spam"}},
		{"hold", accessAction{kind: actHold, word: "hold"}},
		{"FILTER smtp:[127.0.0.1]:10025", accessAction{kind: actFilter, word: "FILTER", text: "smtp:[127.0.0.1]:10025"}},
		{"REDIRECT a@example.com", accessAction{kind: actRedirect, word: "REDIRECT", text: "a@example.com"}},
		{"BCC a@example.com", accessAction{kind: actUnsupported, word: "BCC", text: "a@example.com"}},
		{"hash:/etc/postfix/x", accessAction{kind: actTable, word: "hash:/etc/postfix/x"}},
		{"permit_mynetworks, reject", accessAction{kind: actRestrictions, word: "permit_mynetworks,", text: "permit_mynetworks, reject"}},
		{"", accessAction{kind: actEmpty}},
	}
	for _, tc := range cases {
		if got := parseAccessResult(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseAccessResult(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestAccessReplies(t *testing.T) {
	rt := func(value string) string {
		return "smtpd_recipient_restrictions = check_recipient_access inline:{ {user@example.com=" + value + "} }, permit_mynetworks, reject\n"
	}
	st := func(value string) string {
		return "smtpd_sender_restrictions = check_sender_access inline:{ {s@foreign.net=" + value + "} }\n"
	}
	ct := func(value string) string {
		return "smtpd_client_restrictions = check_client_access inline:{ {foreign.net=" + value + "} }\n"
	}
	const rcptDenied = "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied"
	runCases(t, []checkCase{
		{name: "REJECT", conf: rt("REJECT"), stage: Rcpt, want: rcptDenied, word: "check_recipient_access"},
		{name: "REJECT text", conf: rt("REJECT go away"), stage: Rcpt,
			want: "554 5.7.1 <user@example.com>: Recipient address rejected: go away"},
		{name: "REJECT dsn", conf: rt("REJECT 5.7.2 go away"), stage: Rcpt,
			want: "554 5.7.2 <user@example.com>: Recipient address rejected: go away"},
		{name: "access_map_reject_code", conf: "access_map_reject_code = 550\n" + rt("REJECT"), stage: Rcpt,
			want: "550 5.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "DEFER", conf: rt("DEFER"), stage: Rcpt, want: "450 4.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "code with dsn", conf: rt("550 5.1.1 no such user"), stage: Rcpt,
			want: "550 5.1.1 <user@example.com>: Recipient address rejected: no such user"},
		{name: "code default dsn", conf: rt("450 try later"), stage: Rcpt,
			want: "450 4.7.1 <user@example.com>: Recipient address rejected: try later"},
		{name: "dsn class follows code", conf: rt("550 4.1.1 nope"), stage: Rcpt,
			want: "550 5.1.1 <user@example.com>: Recipient address rejected: nope"},
		{name: "sender dsn fix", conf: st("550 5.1.1 nope"), stage: Rcpt,
			want: "550 5.1.0 <s@foreign.net>: Sender address rejected: nope"},
		{name: "sender dsn fix 1.2", conf: st("550 5.1.2 nope"), stage: Rcpt,
			want: "550 5.1.8 <s@foreign.net>: Sender address rejected: nope"},
		{name: "client dsn fix", conf: ct("550 5.1.2 nope"), stage: Rcpt,
			want: "550 5.0.0 <mail.foreign.net[203.0.113.5]>: Client host rejected: nope"},
		{name: "digits mean OK", conf: rt("550"), stage: Rcpt},
		{name: "OK", conf: rt("OK"), stage: Rcpt},
		{name: "lower-case ok", conf: rt("ok"), stage: Rcpt},
		{name: "RELAY", conf: rt("RELAY"), stage: Rcpt},
		{name: "DUNNO", conf: rt("DUNNO"), stage: Rcpt, want: rcptDenied, word: "reject"},
		{name: "restriction name", conf: rt("reject_unauth_destination, permit"), stage: Rcpt},
		{name: "restriction name permit_mynetworks", conf: rt("permit_mynetworks"), stage: Rcpt, want: rcptDenied},
		{name: "restriction name mynetworks client", conf: rt("permit_mynetworks"), stage: Rcpt,
			mod: func(f *Facts) { f.ClientAddr = netip.MustParseAddr("10.2.3.4") }},
		{name: "table in result", conf: rt("hash:/etc/x"), stage: Rcpt, want: "451 4.3.5 Server configuration error"},
		{name: "unknown word in result", conf: rt("bogus_word"), stage: Rcpt, want: "451 4.3.5 Server configuration error"},
		{name: "unsupported action", conf: rt("BCC a@example.com"), stage: Rcpt, want: "451 4.3.5 Server configuration error"},
		{name: "defer_if_permit result", conf: rt("DEFER_IF_PERMIT maybe later") + "smtpd_relay_restrictions = permit\n", stage: Rcpt,
			mod:  func(f *Facts) { f.ClientAddr = netip.MustParseAddr("10.2.3.4") },
			want: "450 4.7.1 <user@example.com>: Recipient address rejected: maybe later"},
		{name: "WARN goes on", conf: rt("WARN look"), stage: Rcpt, want: rcptDenied},
		{name: "table error", conf: "smtpd_recipient_restrictions = check_recipient_access fail:x\n", stage: Rcpt,
			want: "451 4.3.5 <user@example.com>: Recipient address rejected: Server configuration error"},
		{name: "null sender key", conf: "smtpd_sender_restrictions = check_sender_access inline:{ <>=REJECT }\n", stage: Rcpt,
			mod: func(f *Facts) { f.Sender = "" }, want: "554 5.7.1 <>: Sender address rejected: Access denied"},
		{name: "null sender custom key", conf: "smtpd_null_access_lookup_key = <null>\n" +
			"smtpd_sender_restrictions = check_sender_access inline:{ <null>=REJECT }\n", stage: Rcpt,
			mod: func(f *Facts) { f.Sender = "" }, want: "554 5.7.1 <>: Sender address rejected: Access denied"},
		{name: "case-insensitive", conf: rt("REJECT"), stage: Rcpt, mod: rcpt("USER@Example.COM"),
			want: "554 5.7.1 <USER@Example.COM>: Recipient address rejected: Access denied"},
		{name: "routed OK not trusted", conf: "relay_domains = relay.example\n" +
			"smtpd_relay_restrictions = check_recipient_access inline:{ relay.example=OK }, reject_unauth_destination\n",
			stage: Rcpt, mod: rcpt("u%foreign.net@relay.example"), want: "554 5.7.1 <u%foreign.net@relay.example>: Relay access denied"},
		{name: "routed REJECT still rejects", conf: "smtpd_relay_restrictions = check_recipient_access inline:{ relay.example=REJECT }, reject_unauth_destination\n",
			stage: Rcpt, mod: rcpt("u%foreign.net@relay.example"),
			want: "554 5.7.1 <u%foreign.net@relay.example>: Recipient address rejected: Access denied"},
	})
}

// TestLookupOrder checks the access(5) search order through the keys the
// table saw.
func TestLookupOrder(t *testing.T) {
	cases := []struct {
		name, conf string
		mod        func(*Facts)
		want       []string
	}{
		{"sender with extension", "recipient_delimiter = +\nsmtpd_sender_restrictions = check_sender_access inline:{ x=y }\n",
			func(f *Facts) { f.Sender = "User+Ext@Sub.Example.ORG" },
			[]string{"user+ext@sub.example.org", "user@sub.example.org", "sub.example.org", "example.org", "org", "user+ext@", "user@"}},
		// Regression (TestLookupOrder/reserved names keep their
		// delimiter): the access lookup stripped extensions its own way,
		// so owner-list, list-request and double-bounce were also looked
		// up as owner, list and double, which Postfix's split_addr never
		// does, nor splits at a leading delimiter.
		{"reserved names keep their delimiter", "recipient_delimiter = -\nsmtpd_sender_restrictions = check_sender_access inline:{ x=y }\n",
			func(f *Facts) { f.Sender = "owner-list@example.org" },
			[]string{"owner-list@example.org", "example.org", "org", "owner-list@"}},
		{"request address", "recipient_delimiter = -\nsmtpd_sender_restrictions = check_sender_access inline:{ x=y }\n",
			func(f *Facts) { f.Sender = "list-request@example.org" },
			[]string{"list-request@example.org", "example.org", "org", "list-request@"}},
		{"leading delimiter", "recipient_delimiter = +\nsmtpd_sender_restrictions = check_sender_access inline:{ x=y }\n",
			func(f *Facts) { f.Sender = "+a+b@example.org" },
			[]string{"+a+b@example.org", "example.org", "org", "+a+b@"}},
		{"dot-domain style", "parent_domain_matches_subdomains =\nsmtpd_sender_restrictions = check_sender_access inline:{ x=y }\n",
			func(f *Facts) { f.Sender = "u@a.b.c" },
			[]string{"u@a.b.c", "a.b.c", ".b.c", ".c", "u@"}},
		{"client v4", "smtpd_client_restrictions = check_client_access inline:{ x=y }\n", nil,
			[]string{"mail.foreign.net", "foreign.net", "net", "203.0.113.5", "203.0.113", "203.0", "203"}},
		{"client v6 unknown", "smtpd_client_restrictions = check_client_access inline:{ x=y }\n",
			func(f *Facts) { f.ClientName = "unknown"; f.ClientAddr = netip.MustParseAddr("2001:db8::5") },
			[]string{"unknown", "2001:db8::5", "2001:db8:", "2001:db8", "2001"}},
		{"helo literal", "smtpd_helo_restrictions = check_helo_access inline:{ x=y }\n",
			func(f *Facts) { f.Helo = "[192.0.2.9]" }, []string{"[192.0.2.9]"}},
		{"recipient resolved", "smtpd_relay_restrictions = check_recipient_access inline:{ x=y }, reject\n",
			func(f *Facts) { f.Recipient = "u%foreign.net@example.com" },
			[]string{"u@foreign.net", "foreign.net", "net", "u@"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			c := newChecker(t, tc.conf, w)
			f := foreignFacts()
			if tc.mod != nil {
				tc.mod(&f)
			}
			c.Check(context.Background(), Rcpt, f)
			if !reflect.DeepEqual(w.keys, tc.want) {
				t.Errorf("keys = %q, want %q", w.keys, tc.want)
			}
		})
	}
}

func TestDSNFix(t *testing.T) {
	for _, tc := range []struct{ in, class, want string }{
		{"5.1.1", classSender, "5.1.0"}, {"5.1.2", classSender, "5.1.8"}, {"5.1.3", classSender, "5.1.7"},
		{"5.1.7", classRecipient, "5.1.3"}, {"5.1.8", classRecipient, "5.1.2"}, {"5.1.6", classRecipient, "5.1.6"},
		{"5.1.1", classHelo, "5.0.0"}, {"5.7.1", classSender, "5.7.1"}, {"4.4.0", classClient, "4.4.0"},
	} {
		if got := dsnFix(tc.in, tc.class); got != tc.want {
			t.Errorf("dsnFix(%s, %s) = %s, want %s", tc.in, tc.class, got, tc.want)
		}
	}
}
