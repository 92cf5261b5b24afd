package restrict

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
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

func TestParsePolicyArg(t *testing.T) {
	tests := []struct {
		in      string
		want    policyStep
		wantErr string
	}{
		{in: "inet:127.0.0.1:10023", want: policyStep{svc: PolicyService{Addr: "inet:127.0.0.1:10023"}}},
		{in: "{ unix:private/policy, timeout=10s, max_idle=5m, max_ttl=1h, retry_delay=2, try_limit=3, request_limit=50, default_action=DUNNO, policy_context=submission }",
			want: policyStep{svc: PolicyService{Addr: "unix:private/policy", Timeout: 10 * time.Second, MaxIdle: 5 * time.Minute,
				MaxTTL: time.Hour, RetryDelay: 2 * time.Second, TryLimit: 3, RequestLimit: 50},
				defaultAction: "DUNNO", context: "submission"}},
		{in: "{inet:[::1]:9998, default_action = { 451 4.3.5 Try later } }",
			want: policyStep{svc: PolicyService{Addr: "inet:[::1]:9998"}, defaultAction: "451 4.3.5 Try later"}},
		{in: "localhost:10023", wantErr: "bad policy server"},
		{in: "{ timeout=10s }", wantErr: "the first item must be the policy server"},
		{in: "{ inet:h:1, timeout=soon }", wantErr: "bad time value"},
		{in: "{ inet:h:1, try_limit=-1 }", wantErr: "bad number"},
		{in: "{ inet:h:1, colour=blue }", wantErr: "unknown setting"},
		{in: "{ inet:h:1, timeout }", wantErr: "need name=value"},
		{in: "{ inet:h:1", wantErr: "missing }"},
	}
	for _, tt := range tests {
		got, err := parsePolicyArg(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || *got != tt.want {
			t.Errorf("%q: %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

// TestBracedPolicyService: the braced form's settings reach the client,
// and its default_action and policy_context replace main.cf's.
func TestBracedPolicyService(t *testing.T) {
	w := newWorld()
	var policyCtx string
	w.policy = func(service string, attrs [][2]string) (string, error) {
		for _, a := range attrs {
			if a[0] == "policy_context" {
				policyCtx = a[1]
			}
		}
		return "", errors.New("server down")
	}
	conf := "smtpd_recipient_restrictions = check_policy_service { inet:127.0.0.1:9998, timeout=3s, default_action=DUNNO, policy_context=mx }, permit\n"
	c := newChecker(t, conf, w)
	if r := c.Check(context.Background(), Rcpt, foreignFacts()); replyOf(r) != "" {
		t.Errorf("reply %q: default_action=DUNNO should let the request pass", replyOf(r))
	}
	if len(w.policySvcs) != 1 || w.policySvcs[0] != (PolicyService{Addr: "inet:127.0.0.1:9998", Timeout: 3 * time.Second}) || policyCtx != "mx" {
		t.Errorf("asked %+v with context %q", w.policySvcs, policyCtx)
	}
	// Without the braces main.cf's default action (451 4.3.5) applies.
	c = newChecker(t, "smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:9998, permit\n", w)
	if r := replyOf(c.Check(context.Background(), Rcpt, foreignFacts())); !strings.HasPrefix(r, "451 4.3.5") {
		t.Errorf("reply %q, want 451 4.3.5", r)
	}
}

// FuzzParsePolicyArg: any argument parses or fails cleanly; a parsed one
// names a server tern can ask.
func FuzzParsePolicyArg(f *testing.F) {
	for _, s := range []string{"inet:h:1", "{ unix:p, timeout=1s }", "{inet:h:1,default_action={a b}}", "{", "{ }", "{ inet:h:1 , = , x= }"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePolicyArg(s)
		if err == nil && !validService(p.svc.Addr) {
			t.Fatalf("%q: parsed server %q", s, p.svc.Addr)
		}
	})
}
