package restrict

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
)

type checkCase struct {
	name  string
	conf  string
	stage Stage
	mod   func(*Facts)
	w     func(*world)
	want  string // reply.String(), "" when the stage passes
	word  string // expected Result.Restriction when non-empty
}

func runCases(t *testing.T, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld()
			if tc.w != nil {
				tc.w(w)
			}
			c := newChecker(t, tc.conf, w)
			f := foreignFacts()
			if tc.mod != nil {
				tc.mod(&f)
			}
			res := c.Check(context.Background(), tc.stage, f)
			if got := replyOf(res); got != tc.want {
				t.Errorf("reply = %q, want %q (logs %q)", got, tc.want, w.logs)
			}
			if tc.word != "" && res.Restriction != tc.word {
				t.Errorf("restriction = %q, want %q", res.Restriction, tc.word)
			}
		})
	}
}

func rcpt(addr string) func(*Facts) { return func(f *Facts) { f.Recipient = addr } }

func TestListSemantics(t *testing.T) {
	runCases(t, []checkCase{
		{name: "default relay denied", stage: Rcpt, mod: rcpt("u@foreign.net"),
			want: "454 4.7.1 <u@foreign.net>: Relay access denied", word: "defer_unauth_destination"},
		{name: "default local ok", stage: Rcpt, want: ""},
		{name: "default mynetworks may relay", stage: Rcpt,
			mod: func(f *Facts) { f.ClientAddr = netip.MustParseAddr("10.1.2.3"); f.Recipient = "u@foreign.net" }},
		{name: "default sasl may relay", stage: Rcpt,
			mod: func(f *Facts) { f.SASLUser = "bob"; f.Recipient = "u@foreign.net" }},
		{name: "permit ends only its list", conf: "smtpd_client_restrictions = permit\nsmtpd_recipient_restrictions = reject\n",
			stage: Rcpt, want: "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied", word: "reject"},
		{name: "first decision wins", conf: "smtpd_recipient_restrictions = permit, reject\n", stage: Rcpt},
		{name: "reject ends everything", conf: "smtpd_client_restrictions = reject, permit\nsmtpd_recipient_restrictions = permit\n",
			stage: Rcpt, want: "554 5.7.1 <mail.foreign.net[203.0.113.5]>: Client host rejected: Access denied"},
		{name: "dunno goes on", conf: "smtpd_recipient_restrictions = check_recipient_access inline:{ user@example.com=DUNNO }, reject\n",
			stage: Rcpt, want: "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "implicit permit", conf: "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n", stage: Rcpt},
		{name: "defer", conf: "smtpd_recipient_restrictions = defer\n", stage: Rcpt,
			want: "450 4.3.2 <user@example.com>: Recipient address rejected: Try again later"},
		{name: "reject_code", conf: "reject_code = 550\nsmtpd_recipient_restrictions = reject\n", stage: Rcpt,
			want: "550 5.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "relay before recipient", conf: "smtpd_recipient_restrictions = permit\n", stage: Rcpt,
			mod: rcpt("u@foreign.net"), want: "454 4.7.1 <u@foreign.net>: Relay access denied"},
		{name: "recipient list alone", conf: "smtpd_relay_restrictions =\nsmtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination\n",
			stage: Rcpt, mod: rcpt("u@foreign.net"), want: "554 5.7.1 <u@foreign.net>: Relay access denied"},
		{name: "soft_bounce", conf: "soft_bounce = yes\nsmtpd_recipient_restrictions = reject\n", stage: Rcpt,
			want: "454 4.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "postmaster always accepted", conf: "smtpd_client_restrictions = reject\n", stage: Rcpt, mod: rcpt("Postmaster")},
		{name: "class", conf: "smtpd_restriction_classes = strict\nstrict = reject_non_fqdn_sender, reject\n" +
			"smtpd_sender_restrictions = check_sender_access inline:{ s@foreign.net=strict }\n",
			stage: Rcpt, want: "554 5.7.1 <s@foreign.net>: Sender address rejected: Access denied"},
		{name: "class not triggered", conf: "smtpd_restriction_classes = strict\nstrict = reject\n" +
			"smtpd_sender_restrictions = check_sender_access inline:{ other@foreign.net=strict }\n", stage: Rcpt},
		{name: "bare table is list's access check", conf: "smtpd_helo_restrictions = inline:{ mail.foreign.net=REJECT }\n",
			stage: Rcpt, want: "554 5.7.1 <mail.foreign.net>: Helo command rejected: Access denied", word: "inline:{ mail.foreign.net=REJECT }"},
	})
}

func TestDelayReject(t *testing.T) {
	clientReject := "554 5.7.1 <mail.foreign.net[203.0.113.5]>: Client host rejected: Access denied"
	heloReject := "554 5.7.1 <mail.foreign.net>: Helo command rejected: Access denied"
	senderReject := "554 5.7.1 <s@foreign.net>: Sender address rejected: Access denied"
	nullReject := "554 5.7.1 <>: Sender address rejected: Access denied"
	runCases(t, []checkCase{
		{name: "yes: client not at connect", conf: "smtpd_client_restrictions = reject\n", stage: Connect},
		{name: "yes: client not at helo", conf: "smtpd_client_restrictions = reject\n", stage: Helo},
		{name: "yes: client not at mail", conf: "smtpd_client_restrictions = reject\n", stage: Mail},
		{name: "yes: client at rcpt", conf: "smtpd_client_restrictions = reject\n", stage: Rcpt, want: clientReject},
		{name: "yes: helo at rcpt", conf: "smtpd_helo_restrictions = reject\n", stage: Rcpt, want: heloReject},
		{name: "yes: no helo, helo list skipped", conf: "smtpd_helo_restrictions = reject\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "" }},
		{name: "yes: sender at rcpt", conf: "smtpd_sender_restrictions = reject\n", stage: Rcpt, want: senderReject},
		{name: "yes: null sender", conf: "smtpd_sender_restrictions = reject\n", stage: Rcpt,
			mod: func(f *Facts) { f.Sender = "" }, want: nullReject},
		{name: "yes: client list sees recipient", conf: "smtpd_client_restrictions = reject_unauth_destination\n",
			stage: Rcpt, mod: rcpt("u@foreign.net"), want: "554 5.7.1 <u@foreign.net>: Relay access denied", word: "reject_unauth_destination"},
		{name: "no: client at connect", conf: "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n",
			stage: Connect, want: clientReject},
		{name: "no: client not again at rcpt", conf: "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject\n", stage: Rcpt},
		{name: "no: helo at helo", conf: "smtpd_delay_reject = no\nsmtpd_helo_restrictions = reject\n", stage: Helo, want: heloReject},
		{name: "no: sender at mail", conf: "smtpd_delay_reject = no\nsmtpd_sender_restrictions = reject\n", stage: Mail, want: senderReject},
		{name: "no: client list cannot see recipient", conf: "smtpd_delay_reject = no\nsmtpd_client_restrictions = reject_unauth_destination\n",
			stage: Connect, mod: rcpt("u@foreign.net")},
		{name: "helo required", conf: "smtpd_helo_required = yes\n", stage: Mail, mod: func(f *Facts) { f.Helo = "" },
			want: "503 5.5.1 Error: send HELO/EHLO first", word: "smtpd_helo_required"},
		{name: "helo given", conf: "smtpd_helo_required = yes\n", stage: Mail},
	})
}

func TestDeferAndWarn(t *testing.T) {
	runCases(t, []checkCase{
		{name: "defer_if_permit then permit", conf: "smtpd_recipient_restrictions = defer_if_permit, permit\n", stage: Rcpt,
			want: "450 4.7.0 <user@example.com>: Recipient address rejected: defer_if_permit requested", word: "defer_if_permit"},
		{name: "defer_if_permit then reject", conf: "smtpd_recipient_restrictions = defer_if_permit, reject\n", stage: Rcpt,
			want: "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "defer_if_permit in client list fires at end", conf: "smtpd_client_restrictions = defer_if_permit\n", stage: Rcpt,
			want: "450 4.7.0 <mail.foreign.net[203.0.113.5]>: Client host rejected: defer_if_permit requested"},
		{name: "defer_if_reject then reject", conf: "smtpd_recipient_restrictions = defer_if_reject, reject\n", stage: Rcpt,
			want: "450 4.7.0 <user@example.com>: Recipient address rejected: defer_if_reject requested"},
		{name: "defer_if_reject then permit", conf: "smtpd_recipient_restrictions = defer_if_reject, permit\n", stage: Rcpt},
		{name: "defer_if_reject leaves 4xx alone", conf: "smtpd_recipient_restrictions = defer_if_reject, defer\n", stage: Rcpt,
			want: "450 4.3.2 <user@example.com>: Recipient address rejected: Try again later"},
		{name: "warn_if_reject softens next", conf: "smtpd_recipient_restrictions = warn_if_reject, reject, permit\n", stage: Rcpt},
		{name: "warn_if_reject only next", conf: "smtpd_recipient_restrictions = warn_if_reject, reject_non_fqdn_sender, reject\n",
			stage: Rcpt, want: "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "warn_if_reject defer_if_permit", conf: "smtpd_recipient_restrictions = warn_if_reject, defer_if_permit, permit\n", stage: Rcpt},
		{name: "warn cannot hide table error", conf: "smtpd_recipient_restrictions = warn_if_reject, check_recipient_access fail:x\n",
			stage: Rcpt, want: "451 4.3.5 <user@example.com>: Recipient address rejected: Server configuration error"},
	})
}

func TestWarnLogs(t *testing.T) {
	w := newWorld()
	c := newChecker(t, "smtpd_recipient_restrictions = warn_if_reject, reject\n", w)
	if r := c.Check(context.Background(), Rcpt, foreignFacts()); r.Rejected() {
		t.Fatalf("warn_if_reject rejected: %v", r.Reply)
	}
	want := "reject_warning: 554 5.7.1 <user@example.com>: Recipient address rejected: Access denied"
	if len(w.logs) != 1 || w.logs[0] != want {
		t.Errorf("logs = %q, want [%q]", w.logs, want)
	}
}

func TestBuiltins(t *testing.T) {
	dataNull := func(f *Facts) { f.Sender = ""; f.RecipientCount = 2 }
	runCases(t, []checkCase{
		{name: "pipelining", conf: "smtpd_recipient_restrictions = reject_unauth_pipelining\n", stage: Rcpt,
			mod:  func(f *Facts) { f.Pipelined = true },
			want: "503 5.5.0 <user@example.com>: Recipient address rejected: Improper use of SMTP command pipelining"},
		{name: "no pipelining", conf: "smtpd_recipient_restrictions = reject_unauth_pipelining\n", stage: Rcpt},
		{name: "data pipelining", conf: "smtpd_data_restrictions = reject_unauth_pipelining\n", stage: Data,
			mod:  func(f *Facts) { f.Pipelined = true },
			want: "503 5.5.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining"},
		{name: "eod reject", conf: "smtpd_end_of_data_restrictions = reject\n", stage: EndOfData,
			want: "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied"},
		{name: "multi recipient bounce at data", conf: "smtpd_data_restrictions = reject_multi_recipient_bounce\n",
			stage: Data, mod: dataNull, want: "550 5.5.3 <DATA>: Data command rejected: Multi-recipient bounce"},
		{name: "single recipient bounce ok", conf: "smtpd_data_restrictions = reject_multi_recipient_bounce\n",
			stage: Data, mod: func(f *Facts) { f.Sender = ""; f.RecipientCount = 1 }},
		{name: "non fqdn sender", conf: "smtpd_sender_restrictions = reject_non_fqdn_sender\n", stage: Rcpt,
			mod: func(f *Facts) { f.Sender = "s@foo" }, want: "504 5.5.2 <s@foo>: Sender address rejected: need fully-qualified address"},
		{name: "non fqdn sender ok with dot", conf: "smtpd_sender_restrictions = reject_non_fqdn_sender\n", stage: Rcpt,
			mod: func(f *Facts) { f.Sender = "s@foo.bar." }},
		{name: "non fqdn null sender ok", conf: "smtpd_sender_restrictions = reject_non_fqdn_sender\n", stage: Rcpt,
			mod: func(f *Facts) { f.Sender = "" }},
		{name: "non fqdn recipient", conf: "smtpd_recipient_restrictions = reject_non_fqdn_recipient\n", stage: Rcpt,
			mod: rcpt("user@localhost"), want: "504 5.5.2 <user@localhost>: Recipient address rejected: need fully-qualified address"},
		{name: "non fqdn recipient literal ok", conf: "smtpd_reject_unlisted_recipient = no\nsmtpd_recipient_restrictions = reject_non_fqdn_recipient\n", stage: Rcpt,
			mod: rcpt("user@[192.0.2.1]")},
		{name: "non fqdn helo", conf: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "foo" }, want: "504 5.5.2 <foo>: Helo command rejected: need fully-qualified hostname"},
		{name: "non fqdn helo bare ip", conf: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "1.2.3.4" }, want: "504 5.5.2 <1.2.3.4>: Helo command rejected: need fully-qualified hostname"},
		{name: "helo literal ok", conf: "smtpd_helo_restrictions = reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname\n",
			stage: Rcpt, mod: func(f *Facts) { f.Helo = "[1.2.3.4]" }},
		{name: "helo bad literal", conf: "smtpd_helo_restrictions = reject_invalid_helo_hostname\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "[321.1.1.1]" }, want: "501 5.5.2 <[321.1.1.1]>: Helo command rejected: invalid ip address"},
		{name: "helo invalid", conf: "smtpd_helo_restrictions = reject_invalid_helo_hostname\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "bad!host" }, want: "501 5.5.2 <bad!host>: Helo command rejected: Invalid name"},
		{name: "helo ip is valid name", conf: "smtpd_helo_restrictions = reject_invalid_helo_hostname\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "1.2.3.4" }},
		{name: "helo unknown", conf: "smtpd_helo_restrictions = reject_unknown_helo_hostname\n", stage: Rcpt,
			mod: func(f *Facts) { f.Helo = "nx.example" }, want: "450 4.7.1 <nx.example>: Helo command rejected: Host not found"},
		{name: "helo known", conf: "smtpd_helo_restrictions = reject_unknown_helo_hostname\n", stage: Rcpt},
		{name: "plaintext", conf: "smtpd_recipient_restrictions = reject_plaintext_session\n", stage: Rcpt,
			want: "450 4.7.1 Session encryption is required"},
		{name: "tls", conf: "smtpd_recipient_restrictions = reject_plaintext_session\n", stage: Rcpt, mod: func(f *Facts) { f.TLS = true }},
		{name: "sasl access", conf: "smtpd_recipient_restrictions = check_sasl_access inline:{ bob=REJECT }\n", stage: Rcpt,
			mod: func(f *Facts) { f.SASLUser = "Bob" }, want: "554 5.7.1 <Bob>: SASL login name rejected: Access denied"},
	})
}

func TestUnknownClient(t *testing.T) {
	unknown := func(f *Facts) { f.ClientName = "unknown" }
	runCases(t, []checkCase{
		{name: "unknown client", conf: "smtpd_client_restrictions = reject_unknown_client_hostname\n", stage: Rcpt, mod: unknown,
			want: "450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]"},
		{name: "unknown client 550", conf: "unknown_client_reject_code = 550\nsmtpd_client_restrictions = reject_unknown_client_hostname\n",
			stage: Rcpt, mod: unknown, want: "550 5.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]"},
		{name: "unknown client tempfail", conf: "unknown_client_reject_code = 550\nsmtpd_client_restrictions = reject_unknown_client_hostname\n",
			stage: Rcpt, mod: func(f *Facts) { f.ClientName = "unknown"; f.ClientNameTempFail = true },
			want: "450 4.7.25 Client host rejected: cannot find your hostname, [203.0.113.5]"},
		{name: "known client", conf: "smtpd_client_restrictions = reject_unknown_client_hostname\n", stage: Rcpt},
		{name: "no reverse", conf: "smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n", stage: Rcpt,
			mod:  func(f *Facts) { f.ClientName = "unknown"; f.ReverseClientName = "unknown" },
			want: "450 4.7.1 Client host rejected: cannot find your reverse hostname, [203.0.113.5]"},
		{name: "reverse exists but not verified", conf: "smtpd_client_restrictions = reject_unknown_reverse_client_hostname\n",
			stage: Rcpt, mod: func(f *Facts) { f.ClientName = "unknown"; f.ReverseClientName = "ptr.foreign.net" }},
	})
}

func TestUnknownDomains(t *testing.T) {
	rcptDom := "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n" +
		"smtpd_recipient_restrictions = reject_unknown_recipient_domain\n"
	mynet := func(addr string) func(*Facts) {
		return func(f *Facts) { f.ClientAddr = netip.MustParseAddr("10.0.0.1"); f.Recipient = addr }
	}
	sender := func(addr string) func(*Facts) { return func(f *Facts) { f.Sender = addr } }
	runCases(t, []checkCase{
		{name: "sender nx", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain\n", stage: Rcpt,
			mod: sender("s@nx.example"), want: "450 4.1.8 <s@nx.example>: Sender address rejected: Domain not found"},
		{name: "sender nx 550", conf: "unknown_address_reject_code = 550\nsmtpd_sender_restrictions = reject_unknown_sender_domain\n",
			stage: Rcpt, mod: sender("s@nx.example"), want: "550 5.1.8 <s@nx.example>: Sender address rejected: Domain not found"},
		{name: "sender ok", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain\n", stage: Rcpt},
		{name: "local sender needs no dns", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain\n", stage: Rcpt,
			mod: sender("s@example.com")},
		{name: "sender temp defers permit", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain, permit\n", stage: Rcpt,
			mod: sender("s@temp.example"), want: "450 4.1.8 <s@temp.example>: Sender address rejected: Domain not found",
			word: "reject_unknown_sender_domain"},
		{name: "sender temp then reject", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain\nsmtpd_recipient_restrictions = reject\n",
			stage: Rcpt, mod: sender("s@temp.example"), want: "554 5.7.1 <user@example.com>: Recipient address rejected: Access denied"},
		{name: "sender dns error is temporary", conf: "smtpd_sender_restrictions = reject_unknown_sender_domain\n", stage: Rcpt,
			mod: sender("s@err.example"), want: "450 4.1.8 <s@err.example>: Sender address rejected: Domain not found"},
		{name: "sender temp action defer", conf: "unknown_address_tempfail_action = defer\n" +
			"smtpd_sender_restrictions = reject_unknown_sender_domain, reject\n", stage: Rcpt,
			mod: sender("s@temp.example"), want: "450 4.1.8 <s@temp.example>: Sender address rejected: Domain not found"},
		{name: "recipient nx", conf: rcptDom, stage: Rcpt, mod: mynet("u@nx.example"),
			want: "450 4.1.2 <u@nx.example>: Recipient address rejected: Domain not found"},
		{name: "recipient ok", conf: rcptDom, stage: Rcpt, mod: mynet("u@foreign.net")},
	})
}

func TestUnlisted(t *testing.T) {
	runCases(t, []checkCase{
		{name: "implicit local", stage: Rcpt, mod: rcpt("nobody@example.com"),
			want: "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
			word: "smtpd_reject_unlisted_recipient"},
		{name: "implicit off", conf: "smtpd_reject_unlisted_recipient = no\n", stage: Rcpt, mod: rcpt("nobody@example.com")},
		{name: "explicit", conf: "smtpd_reject_unlisted_recipient = no\nsmtpd_recipient_restrictions = reject_unlisted_recipient\n",
			stage: Rcpt, mod: rcpt("nobody@example.com"),
			want: "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table",
			word: "reject_unlisted_recipient"},
		{name: "known user", stage: Rcpt},
		{name: "postmaster is always known", stage: Rcpt, mod: rcpt("postmaster@example.com")},
		{name: "virtual mailbox", stage: Rcpt, mod: rcpt("x@virt.example"),
			want: "550 5.1.1 <x@virt.example>: Recipient address rejected: User unknown in virtual mailbox table"},
		{name: "virtual alias", stage: Rcpt, mod: rcpt("x@alias.example"),
			want: "550 5.1.1 <x@alias.example>: Recipient address rejected: User unknown in virtual alias table"},
		{name: "relay", stage: Rcpt, mod: rcpt("x@relay.example"),
			want: "550 5.1.1 <x@relay.example>: Recipient address rejected: User unknown in relay recipient table"},
		{name: "no table name", conf: "show_user_unknown_table_name = no\n", stage: Rcpt, mod: rcpt("nobody@example.com"),
			want: "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown"},
		{name: "code", conf: "unknown_local_recipient_reject_code = 450\n", stage: Rcpt, mod: rcpt("nobody@example.com"),
			want: "450 4.1.1 <nobody@example.com>: Recipient address rejected: User unknown in local recipient table"},
		{name: "lookup error", stage: Rcpt, w: func(w *world) { w.knownErr = true },
			want: "451 4.3.0 <user@example.com>: Temporary lookup failure"},
		{name: "sender", conf: "smtpd_reject_unlisted_sender = yes\n", stage: Rcpt, mod: func(f *Facts) { f.Sender = "nobody@example.com" },
			want: "550 5.1.0 <nobody@example.com>: Sender address rejected: User unknown in local recipient table"},
		{name: "foreign sender not checked", conf: "smtpd_reject_unlisted_sender = yes\n", stage: Rcpt},
		{name: "relocated local", conf: "unknown_local_recipient_reject_code = 450\n", stage: Rcpt, mod: rcpt("old@example.com"),
			want: "550 5.1.6 <old@example.com>: Recipient address rejected: User has moved to new@example.net"},
		{name: "relocated virtual", stage: Rcpt, mod: rcpt("gone@virt.example"),
			want: "550 5.1.6 <gone@virt.example>: Recipient address rejected: User has moved to a street address"},
		{name: "relocated sender is only unknown", conf: "smtpd_reject_unlisted_sender = yes\n", stage: Rcpt,
			mod:  func(f *Facts) { f.Sender = "old@example.com" },
			want: "550 5.1.0 <old@example.com>: Sender address rejected: User unknown in local recipient table"},
	})
}

func TestSessionCarriesDeferIfPermit(t *testing.T) {
	w := newWorld()
	c := newChecker(t, "smtpd_delay_reject = no\nsmtpd_client_restrictions = defer_if_permit\n", w)
	ctx := context.Background()
	f := foreignFacts()
	s := c.NewSession()
	for _, st := range []Stage{Connect, Helo, Mail} {
		if r := s.Check(ctx, st, f); r.Rejected() {
			t.Fatalf("%v: %v", st, r.Reply)
		}
	}
	want := "450 4.7.0 <mail.foreign.net[203.0.113.5]>: Client host rejected: defer_if_permit requested"
	if got := replyOf(s.Check(ctx, Rcpt, f)); got != want {
		t.Errorf("session rcpt = %q, want %q", got, want)
	}
	if got := replyOf(c.Check(ctx, Rcpt, f)); got != "" {
		t.Errorf("stateless rcpt = %q, want pass", got)
	}
}

func TestPermitLogging(t *testing.T) {
	w := newWorld()
	c := newChecker(t, "smtpd_log_access_permit_actions = permit_mynetworks\n", w)
	f := foreignFacts()
	f.ClientAddr = netip.MustParseAddr("10.9.9.9")
	r := c.Check(context.Background(), Rcpt, f)
	if !r.Permit || r.Restriction != "permit_mynetworks" || r.Rejected() ||
		r.Log != "action=permit_mynetworks for Client host=mail.foreign.net[10.9.9.9]" {
		t.Errorf("result = %+v", r)
	}
	c2 := newChecker(t, "", w)
	if r := c2.Check(context.Background(), Rcpt, f); !reflect.DeepEqual(r, Result{}) {
		t.Errorf("without permit logging result = %+v, want zero", r)
	}
}
