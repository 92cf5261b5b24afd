package restrict

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestCheckPolicyService(t *testing.T) {
	const conf = "smtpd_recipient_restrictions = check_policy_service unix:private/policy, permit\n" +
		"smtpd_policy_service_policy_context = submission\n"
	tests := []struct {
		name    string
		answer  string
		err     error
		reply   string
		prepend []string
	}{
		{"greylisted", "DEFER_IF_PERMIT Greylisted, see the help page", nil,
			"450 4.7.1 <user@example.com>: Recipient address rejected: Greylisted, see the help page", nil},
		{"passed with a header", "PREPEND X-Greylist: delayed 3 seconds", nil, "", []string{"X-Greylist: delayed 3 seconds"}},
		{"rejected", "550 5.7.23 SPF check failed", nil, "550 5.7.23 <user@example.com>: Recipient address rejected: SPF check failed", nil},
		{"dunno", "dunno", nil, "", nil},
		{"server down", "", errors.New("connect: no such file"), "451 4.3.5 <user@example.com>: Recipient address rejected: Server configuration problem", nil},
	}
	for _, tt := range tests {
		w := newWorld()
		var got [][2]string
		w.policy = func(service string, attrs [][2]string) (string, error) {
			if service != "unix:private/policy" {
				t.Errorf("service %q", service)
			}
			got = attrs
			return tt.answer, tt.err
		}
		c := newChecker(t, conf, w)
		f := foreignFacts()
		f.Instance, f.Size, f.SASLUser, f.SASLMethod = "1a2b.40000", 2048, "alice", "PLAIN"
		r := c.Check(context.Background(), Rcpt, f)
		if replyOf(r) != tt.reply || !slices.Equal(r.Prepend, tt.prepend) {
			t.Errorf("%s: reply %q prepend %q; want %q %q", tt.name, replyOf(r), r.Prepend, tt.reply, tt.prepend)
		}
		attrs := map[string]string{}
		for _, a := range got {
			attrs[a[0]] = a[1]
		}
		for k, v := range map[string]string{"request": "smtpd_access_policy", "protocol_state": "RCPT", "protocol_name": "ESMTP",
			"sender": "s@foreign.net", "recipient": "user@example.com", "client_address": "203.0.113.5",
			"client_name": "mail.foreign.net", "helo_name": "mail.foreign.net", "instance": "1a2b.40000",
			"sasl_username": "alice", "sasl_method": "PLAIN", "size": "2048", "policy_context": "submission"} {
			if attrs[k] != v {
				t.Errorf("%s: attribute %s = %q, want %q", tt.name, k, attrs[k], v)
			}
		}
	}
}

func TestCheckPolicyServiceBadArgument(t *testing.T) {
	for _, v := range []string{"check_policy_service", "check_policy_service hash:/etc/x", "check_policy_service inet:nohostport"} {
		if _, err := New(parseConf(t, "smtpd_recipient_restrictions = "+v+"\n"), newWorld().deps()); err == nil {
			t.Errorf("%q accepted", v)
		}
	}
}
