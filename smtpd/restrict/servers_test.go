package restrict

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestServerAccessChecks(t *testing.T) {
	servers := map[string][]ServerHost{
		"bogus.net/MX":       {{Name: "mx.bogus.net", Addrs: []string{"10.1.2.3"}}},
		"good.net/MX":        {{Name: "mx1.good.net", Addrs: []string{"192.0.2.25"}}, {Name: "mx2.good.net", Addrs: []string{"192.0.2.26"}}},
		"trusted.net/MX":     {{Name: "mx.trusted.net", Addrs: []string{"10.9.9.9"}}},
		"spammy.org/NS":      {{Name: "ns1.bulletproof.example", Addrs: []string{"198.51.100.53"}}},
		"mail.foreign.net/A": {{Name: "mail.foreign.net", Addrs: []string{"127.0.0.1"}}},
		"broken.net/MX":      nil,
		"whitelisted.net/MX": {{Name: "mx.ok.example", Addrs: []string{"192.0.2.9"}}},
	}
	tests := []struct {
		name, conf, sender, want string
	}{
		{name: "private MX", conf: "smtpd_sender_restrictions = check_sender_mx_access cidr:" + cidrFile(t),
			sender: "a@bogus.net", want: "554 5.7.1 <a@bogus.net>: Sender address rejected: MX in a private network"},
		{name: "public MX", conf: "smtpd_sender_restrictions = check_sender_mx_access cidr:" + cidrFile(t), sender: "a@good.net"},
		{name: "DUNNO by name exempts", conf: "smtpd_sender_restrictions = check_sender_mx_access texthash:" + nameFile(t),
			sender: "a@trusted.net"},
		{name: "address prefix", conf: "smtpd_sender_restrictions = check_sender_mx_access texthash:" + nameFile(t),
			sender: "a@bogus.net", want: "554 5.7.1 <a@bogus.net>: Sender address rejected: private MX"},
		{name: "NS by name parent domain", conf: "smtpd_sender_restrictions = check_sender_ns_access texthash:" + nameFile(t),
			sender: "x@spammy.org", want: "554 5.7.1 <x@spammy.org>: Sender address rejected: bulletproof hosting"},
		{name: "client A", conf: "smtpd_client_restrictions = check_client_a_access cidr:" + cidrFile(t),
			want: "554 5.7.1 <mail.foreign.net[203.0.113.5]>: Client host rejected: loopback"},
		{name: "lookup failure is DUNNO", conf: "smtpd_sender_restrictions = check_sender_mx_access cidr:" + cidrFile(t), sender: "a@broken.net"},
		{name: "OK is refused", conf: "smtpd_sender_restrictions = check_sender_mx_access texthash:" + nameFile(t),
			sender: "a@whitelisted.net", want: "451 4.3.5 Server configuration error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld()
			w.servers = servers
			w.known["user@example.com"] = true
			c := newChecker(t, tt.conf+"\nsmtpd_recipient_restrictions = permit\n", w)
			f := foreignFacts()
			if tt.sender != "" {
				f.Sender = tt.sender
			}
			if got := replyOf(c.Check(context.Background(), Rcpt, f)); got != tt.want {
				t.Errorf("reply %q, want %q", got, tt.want)
			}
		})
	}
	deps := newWorld().deps()
	deps.ServerHosts = nil
	if _, err := New(parseConf(t, "smtpd_sender_restrictions = check_sender_mx_access cidr:"+cidrFile(t)+"\n"), deps); err == nil || !strings.Contains(err.Error(), "Deps.ServerHosts") {
		t.Errorf("without a server lookup: %v", err)
	}
}

func cidrFile(t *testing.T) string {
	t.Helper()
	return writeTemp(t, "bogus.cidr", "10.0.0.0/8 REJECT MX in a private network\n127.0.0.0/8 REJECT loopback\n")
}

func nameFile(t *testing.T) string {
	t.Helper()
	return writeTemp(t, "names", "mx.trusted.net DUNNO\n10 REJECT private MX\nbulletproof.example REJECT bulletproof hosting\nmx.ok.example OK\n")
}

// writeTemp writes a file in a test's temporary folder.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
