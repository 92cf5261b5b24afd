package restrict

import (
	"context"
	"fmt"
	"testing"
)

// TestOpenRelayTricks runs classic open-relay probes against the default
// configuration (an unauthenticated client outside mynetworks; local
// domain example.com, relay_domains relay.example). Expectations follow
// Postfix: the recipient is resolved as trivial-rewrite would (source
// route stripped, quotes looked into, local domains stripped and the %
// hack and ! paths applied to what is left), and only a final domain that
// is local, virtual or in relay_domains may receive mail.
func TestOpenRelayTricks(t *testing.T) {
	const denied = "454 4.7.1 <%s>: Relay access denied"
	cases := []struct {
		rcpt   string
		conf   string
		relays bool // accepted (not a relay attempt, or allowed)
		why    string
	}{
		{"user@example.com", "", true, "plain local recipient"},
		{"user@foreign.net", "", false, "plain relay attempt"},
		{"user%foreign.net@example.com", "", false, "% hack: local domain stripped, user%foreign.net becomes user@foreign.net"},
		{"foreign.net!user@example.com", "", false, "bang path: local domain stripped, foreign.net!user becomes user@foreign.net"},
		{"@example.com:user@foreign.net", "", false, "source route stripped: user@foreign.net"},
		{"@foreign.net:user@example.com", "", true, "source route stripped: user@example.com is local"},
		{`"user@foreign.net"@example.com`, "", false, "resolve_dequoted_address=yes looks inside the quotes"},
		{`"user%foreign.net"@example.com`, "", false, "quoted % hack, same as unquoted"},
		{"user@foreign.net@example.com", "", false, "extra @ in the local part after stripping the local domain"},
		{"user@[203.0.113.9]", "", false, "address literal that is not one of ours"},
		{"user@[192.0.2.1]", "", true, "address literal of our own interface (LocalDomain says so)"},
		{"user@example.com.foreign.net", "", false, "local domain as prefix of a foreign one"},
		{"user@example.com.", "", true, "trailing dot is stripped"},
		{"user@foreign.net.", "", false, "trailing dot on a foreign domain"},
		{"user@EXAMPLE.COM", "", true, "domains compare case-insensitively"},
		{"user%foreign.net", "", false, "unqualified % hack: user@foreign.net"},
		{"foreign.net!user", "", false, "unqualified bang path: user@foreign.net"},
		{"user", "myorigin = example.com\n", true, "unqualified: user@$myorigin (local)"},
		{"user", "myorigin = foreign.net\n", false, "unqualified: user@$myorigin (foreign myorigin)"},
		{"user@", "", false, "empty domain is not local (resolve_null_domain=no)"},
		{"user%example.com@foreign.net", "", false, "foreign final domain"},
		{"user%foreign.net@example.com", "allow_percent_hack = no\n", true,
			"without the % hack the local part is opaque: local user \"user%foreign.net\""},
		{"foreign.net!user@example.com", "swap_bangpath = no\nsmtpd_reject_unlisted_recipient = no\n", true,
			"without swap_bangpath the local part is opaque"},
		{"user%foreign.net@relay.example", "", false, "source-routed recipient in relay_domains (allow_untrusted_routing=no)"},
		{"user%foreign.net@relay.example", "allow_untrusted_routing = yes\nsmtpd_reject_unlisted_recipient = no\n", true,
			"allow_untrusted_routing=yes trusts routing to relay_domains"},
		{"r@relay.example", "", true, "relay_domains recipient"},
		{"v@virt.example", "", true, "virtual mailbox domain recipient"},
		{"user@sub.example.com", "", false, "subdomain of a local domain is not local"},
	}
	for _, tc := range cases {
		t.Run(tc.rcpt+" "+tc.conf, func(t *testing.T) {
			w := newWorld()
			c := newChecker(t, tc.conf, w)
			f := foreignFacts()
			f.Recipient = tc.rcpt
			got := replyOf(c.Check(context.Background(), Rcpt, f))
			want := ""
			if !tc.relays {
				want = fmt.Sprintf(denied, tc.rcpt)
			}
			if got != want {
				t.Errorf("%s: got %q, want %q", tc.why, got, want)
			}
		})
	}
}

// TestRelayRejectCode checks reject_unauth_destination's code and that a
// local domain lookup failure never permits.
func TestRelayRejectCode(t *testing.T) {
	runCases(t, []checkCase{
		{name: "reject_unauth_destination", conf: "smtpd_relay_restrictions = reject_unauth_destination\n",
			stage: Rcpt, mod: rcpt("u@foreign.net"), want: "554 5.7.1 <u@foreign.net>: Relay access denied"},
		{name: "relay_domains_reject_code", conf: "relay_domains_reject_code = 550\nsmtpd_relay_restrictions = reject_unauth_destination\n",
			stage: Rcpt, mod: rcpt("u@foreign.net"), want: "550 5.7.1 <u@foreign.net>: Relay access denied"},
		{name: "defer uses code minus 100", conf: "relay_domains_reject_code = 550\n",
			stage: Rcpt, mod: rcpt("u@foreign.net"), want: "450 4.7.1 <u@foreign.net>: Relay access denied"},
		{name: "lookup failure", stage: Rcpt, w: func(w *world) { w.localErr = true },
			want: "451 4.3.0 <user@example.com>: Temporary lookup failure"},
		{name: "permit_auth_destination", conf: "smtpd_relay_restrictions = permit_auth_destination, reject\n", stage: Rcpt},
		{name: "permit_auth_destination foreign", conf: "smtpd_relay_restrictions = permit_auth_destination, reject\n",
			stage: Rcpt, mod: rcpt("u@foreign.net"), want: "554 5.7.1 <u@foreign.net>: Recipient address rejected: Access denied"},
	})
}
