package restrict

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseAddrPattern(t *testing.T) {
	tests := []struct {
		in       string
		match    []string
		nomatch  []string
		wantFail bool
	}{
		{in: "127.0.0.2", match: []string{"127.0.0.2"}, nomatch: []string{"127.0.0.3", "127.0.1.2"}},
		{in: "127.0.0.[2..11]", match: []string{"127.0.0.2", "127.0.0.11"}, nomatch: []string{"127.0.0.1", "127.0.0.12"}},
		{in: "127.0.0.[2;4;10..11]", match: []string{"127.0.0.4", "127.0.0.10"}, nomatch: []string{"127.0.0.3", "127.0.0.9"}},
		{in: "[127;128].0.[0..255].[1..2]", match: []string{"128.0.77.2"}, nomatch: []string{"129.0.0.1"}},
		{in: "127.0.0", wantFail: true},
		{in: "127.0.0.2.5", wantFail: true},
		{in: "127.0.0.256", wantFail: true},
		{in: "127.0.0.[5..2]", wantFail: true},
		{in: "127.0.0.[2", wantFail: true},
		{in: "127.0.0.2..4", wantFail: true},
		{in: "127.0.0.[]", wantFail: true},
		{in: "127.0.0.x", wantFail: true},
	}
	for _, tt := range tests {
		p, err := parseAddrPattern(tt.in)
		if tt.wantFail {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		for _, a := range tt.match {
			if !p.matches(netip.MustParseAddr(a)) {
				t.Errorf("%q does not match %s", tt.in, a)
			}
		}
		for _, a := range tt.nomatch {
			if p.matches(netip.MustParseAddr(a)) {
				t.Errorf("%q matches %s", tt.in, a)
			}
		}
	}
}

func TestReversedAddr(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.5":        "5.113.0.203",
		"::ffff:192.0.2.1":   "1.2.0.192",
		"2001:db8::1":        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
		"2001:db8:abcd::f00": "0.0.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.c.b.a.8.b.d.0.1.0.0.2",
	} {
		if got := reversedAddr(netip.MustParseAddr(in)); got != want {
			t.Errorf("reversedAddr(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestListedName(t *testing.T) {
	for in, want := range map[string]string{
		"user@Foreign.NET": "foreign.net", "mail.foreign.net.": "mail.foreign.net",
		"user@[192.0.2.1]": "", "host.123": "", "bad_name!": "", "": "", "a@": "",
	} {
		if got := listedName(in); got != want {
			t.Errorf("listedName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDNSListRestrictions(t *testing.T) {
	lists := map[string]string{
		"5.113.0.203.bl.test":       "127.0.0.2|listed since 2026; see https://bl.test/",
		"5.113.0.203.codes.test":    "127.0.0.4",
		"5.113.0.203.tempbl.test":   "temp",
		"5.113.0.203.wl.test":       "127.0.0.2",
		"5.113.0.203.tempwl.test":   "temp",
		"foreign.net.rhs.test":      "127.0.0.2|sender domain listed",
		"mail.foreign.net.rhs.test": "127.0.0.2",
	}
	const client = "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using "
	replies := filepath.Join(t.TempDir(), "rbl_reply")
	if err := os.WriteFile(replies, []byte("bl.test $rbl_code 5.7.9 Go away, $client_address ($rbl_what via $rbl_domain): $rbl_txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, conf, want string
		mod              func(*Facts)
	}{
		{name: "listed with reason", conf: "smtpd_client_restrictions = reject_rbl_client bl.test",
			want: client + "bl.test; listed since 2026; see https://bl.test/"},
		{name: "not listed", conf: "smtpd_client_restrictions = reject_rbl_client clean.test"},
		{name: "filter matches", conf: "smtpd_client_restrictions = reject_rbl_client codes.test=127.0.0.[2..4]",
			want: client + "codes.test"},
		{name: "filter does not match", conf: "smtpd_client_restrictions = reject_rbl_client codes.test=127.0.0.2"},
		{name: "lookup failure is not a listing", conf: "smtpd_client_restrictions = reject_rbl_client tempbl.test"},
		{name: "maps_rbl_reject_code", conf: "maps_rbl_reject_code = 550\nsmtpd_client_restrictions = reject_rbl_client bl.test",
			want: "550 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using bl.test; listed since 2026; see https://bl.test/"},
		{name: "rbl_reply_maps", conf: "rbl_reply_maps = texthash:" + replies + "\n" +
			"smtpd_client_restrictions = reject_rbl_client bl.test",
			want: "554 5.7.9 Go away, 203.0.113.5 (203.0.113.5 via bl.test): listed since 2026; see https://bl.test/"},
		{name: "template with a bad code", conf: "default_rbl_reply = Go away\nsmtpd_client_restrictions = reject_rbl_client bl.test",
			want: "450 4.7.1 Service unavailable"},
		{name: "rhsbl sender", conf: "smtpd_sender_restrictions = reject_rhsbl_sender rhs.test",
			want: "554 5.7.1 Service unavailable; Sender address [s@foreign.net] blocked using rhs.test; sender domain listed"},
		{name: "rhsbl client", conf: "smtpd_client_restrictions = reject_rhsbl_client rhs.test",
			want: "554 5.7.1 Service unavailable; Client host [mail.foreign.net] blocked using rhs.test"},
		{name: "rhsbl helo", conf: "smtpd_helo_restrictions = reject_rhsbl_helo rhs.test",
			want: "554 5.7.1 Service unavailable; Helo command [mail.foreign.net] blocked using rhs.test"},
		{name: "rhsbl recipient not listed", conf: "smtpd_recipient_restrictions = reject_rhsbl_recipient rhs.test, permit_mynetworks, reject_unauth_destination"},
		{name: "rhsbl client unknown name", conf: "smtpd_client_restrictions = reject_rhsbl_client rhs.test",
			mod: func(f *Facts) { f.ClientName = "unknown" }},
		{name: "dnswl permits", conf: "smtpd_client_restrictions = permit_dnswl_client wl.test, reject_rbl_client bl.test"},
		{name: "dnswl failure defers a reject", conf: "smtpd_client_restrictions = permit_dnswl_client tempwl.test, reject_rbl_client bl.test",
			want: "450 4.7.1 <203.0.113.5>: Client host rejected: Service unavailable"},
		{name: "dnswl never opens the relay", conf: "smtpd_relay_restrictions = permit_dnswl_client wl.test, reject_unauth_destination\n" +
			"smtpd_recipient_restrictions = permit",
			mod:  func(f *Facts) { f.Recipient = "victim@elsewhere.example" },
			want: "554 5.7.1 <victim@elsewhere.example>: Relay access denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.lists = lists
			conf := tt.conf + "\n"
			if !strings.Contains(conf, "smtpd_recipient_restrictions") {
				conf += "smtpd_recipient_restrictions = permit\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n"
			}
			c := newChecker(t, conf, w)
			f := foreignFacts()
			if tt.mod != nil {
				tt.mod(&f)
			}
			if got := replyOf(c.Check(context.Background(), Rcpt, f)); got != tt.want {
				t.Errorf("reply %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDNSListQueries: the names asked, for IPv6 clients too.
func TestDNSListQueries(t *testing.T) {
	w := newWorld()
	w.lists = map[string]string{}
	c := newChecker(t, "smtpd_client_restrictions = reject_rbl_client bl.test=127.0.0.2, reject_rhsbl_reverse_client rhs.test\n", w)
	f := foreignFacts()
	f.ClientAddr = netip.MustParseAddr("2001:db8::1")
	f.ReverseClientName = "Host.Example.NET"
	c.Check(context.Background(), Rcpt, f)
	want := []string{"1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test", "host.example.net.rhs.test"}
	if !slices.Equal(w.queried, want) {
		t.Errorf("queries %q, want %q", w.queried, want)
	}
}

func TestDNSListConfigErrors(t *testing.T) {
	for conf, want := range map[string]string{
		"smtpd_client_restrictions = reject_rbl_client":                                               "needs a DNS list domain",
		"smtpd_client_restrictions = reject_rbl_client bl.test=127.0.0":                               "bad address pattern",
		"smtpd_client_restrictions = reject_rbl_client bad..zone":                                     "bad DNS list domain",
		"smtpd_client_restrictions = reject_maps_rbl":                                                 "not supported by tern",
		"smtpd_restriction_classes = c\nc = reject_rbl_client\nsmtpd_recipient_restrictions = reject": "needs a DNS list domain",
	} {
		_, err := New(parseConf(t, conf+"\n"), newWorld().deps())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", conf, err, want)
		}
	}
	deps := newWorld().deps()
	deps.DNSList = nil
	if _, err := New(parseConf(t, "smtpd_client_restrictions = reject_rbl_client bl.test\n"), deps); err == nil || !strings.Contains(err.Error(), "Deps.DNSList") {
		t.Errorf("without a DNS list lookup: %v", err)
	}
}

// FuzzParseAddrPattern: the parser never panics, and a pattern it takes
// matches the address it spells when it is a plain one.
func FuzzParseAddrPattern(f *testing.F) {
	for _, s := range []string{"127.0.0.2", "127.0.0.[2..11]", "127.0.0.[2;4]", "[1;2].[3..4].5.6", "1.2.3", "256.0.0.1", "[", "1.2.3.4.", "..", "[..]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseAddrPattern(s)
		if err != nil {
			return
		}
		if a, perr := netip.ParseAddr(s); perr == nil && a.Is4() && !p.matches(a) {
			t.Fatalf("%q does not match itself", s)
		}
	})
}
