package local

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
)

// TestExpandedDeliveriesLoggedAsPostfixDoes: local logged each address
// an alias expanded to in a short line of its own ("to=<alice>,
// orig_to=<team>, relay=local, status=sent (...)", without delay= or
// dsn=), and then the recipient again in the agent server's line, so a
// log parser counted two deliveries for one (seen as two status=sent
// lines for root aliased to root@$myorigin). Like Postfix's local, each
// mailbox, file, command or forwarded address now gets one full line,
// with the recipient as orig_to, and the recipient none of its own.
func TestExpandedDeliveriesLoggedAsPostfixDoes(t *testing.T) {
	line := func(to, orig, status, text string) *regexp.Regexp {
		if orig != "" {
			orig = ", orig_to=<" + regexp.QuoteMeta(orig) + ">"
		}
		return regexp.MustCompile(`^info: TESTQID: to=<` + regexp.QuoteMeta(to) + `>` + orig +
			`, relay=local, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, dsn=` + status + ` \(` + regexp.QuoteMeta(text) + `\)$`)
	}
	tests := []struct {
		name    string
		aliases memAliases
		rcpt    string
		lines   []*regexp.Regexp // local's lines, in order
	}{
		{"two members", memAliases{"team": "alice, bob"}, "team@example.com", []*regexp.Regexp{
			line("alice@example.com", "team@example.com", `2\.0\.0, status=sent`, "delivered to mailbox"),
			line("bob@example.com", "team@example.com", `2\.0\.0, status=sent`, "delivered to mailbox"),
		}},
		{"member bounced", memAliases{"team": "alice, nosuch"}, "team@example.com", []*regexp.Regexp{
			line("alice@example.com", "team@example.com", `2\.0\.0, status=sent`, "delivered to mailbox"),
			line("nosuch@example.com", "team@example.com", `5\.1\.1, status=bounced`, `unknown user: "nosuch"`),
		}},
		{"forwarded", memAliases{"team": "carol@remote.org, dave@remote.org"}, "team@example.com", []*regexp.Regexp{
			line("carol@remote.org", "team@example.com", `2\.0\.0, status=sent`, "forwarded as FWD1"),
			line("dave@remote.org", "team@example.com", `2\.0\.0, status=sent`, "forwarded as FWD1"),
		}},
		{"command and mailbox", memAliases{"team": `"|cat >/dev/null", bob`}, "team@example.com", []*regexp.Regexp{
			line("team@example.com", "", `2\.0\.0, status=sent`, "delivered to command: cat >/dev/null"),
			line("bob@example.com", "team@example.com", `2\.0\.0, status=sent`, "delivered to mailbox"),
		}},
		{"the recipient itself", nil, "alice@example.com", []*regexp.Regexp{
			line("alice@example.com", "", `2\.0\.0, status=sent`, "delivered to mailbox"),
		}},
		{"alias to itself", memAliases{"alice": "alice"}, "alice@example.com", []*regexp.Regexp{
			line("alice@example.com", "", `2\.0\.0, status=sent`, "delivered to mailbox"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			if tt.aliases != nil {
				fx.cfg.Aliases = tt.aliases
			}
			res := fx.deliver("s@remote.org", testBody, tt.rcpt)[0]
			if !res.Logged {
				t.Errorf("the result would get a line of the agent server's too: %+v", res)
			}
			var got []string
			for _, l := range fx.log.lines {
				if strings.Contains(l, " to=<") {
					got = append(got, l)
				}
			}
			if len(got) != len(tt.lines) {
				t.Fatalf("local logged %d delivery lines, want %d:\n%s", len(got), len(tt.lines), strings.Join(got, "\n"))
			}
			for i, re := range tt.lines {
				if !re.MatchString(got[i]) {
					t.Errorf("line %d:\n%s\nwant it to match\n%s", i, got[i], re)
				}
			}
		})
	}
}

// TestDuplicateAcrossRecipientsSilent: two recipients of one request
// that reach the same mailbox get one delivery and one line, for the
// first, as with Postfix's duplicate filter.
func TestDuplicateAcrossRecipientsSilent(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.Aliases = memAliases{"root": "alice", "postmaster": "alice"}
	res := fx.deliver("s@remote.org", testBody, "root@example.com", "postmaster@example.com")
	for i, r := range res {
		expect(t, r, res[0].Status, "2.0.0", "delivered to mailbox")
		if !r.Logged {
			t.Errorf("result %d would get a line of the server's: %+v", i, r)
		}
	}
	var got []string
	for _, l := range fx.log.lines {
		if strings.Contains(l, " to=<") {
			got = append(got, l)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "to=<alice@example.com>, orig_to=<root@example.com>") {
		t.Errorf("lines:\n%s\nwant one, for alice from root", strings.Join(got, "\n"))
	}
	if n := strings.Count(fx.read(fx.spool+"/alice"), "\nFrom ") + 1; n != 1 {
		t.Errorf("alice's mailbox holds %d messages, want 1", n)
	}
}

// TestStatusFilterBeforeLocalLogs: local logs its outcomes itself, so
// local_delivery_status_filter, which the agent server applies before
// the lines it writes, is applied by local before its own: a member's
// 5.1.1 turned into 4.1.1 is logged and returned as a deferral.
func TestStatusFilterBeforeLocalLogs(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.Aliases = memAliases{"team": "alice, nosuch"}
	table := filepath.Join(fx.dir, "status_filter")
	fx.write(table, `/^5\.1\.1 (.*)$/ 4.1.1 $1`+"\n", 0o644)
	filter, err := agent.OpenStatusFilter("local", "regexp:"+table, maps.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer filter.Close()
	req := &agent.Request{
		Env:          &envelope.Envelope{ID: "TESTQID", Sender: "s@remote.org"},
		Recipients:   []envelope.Recipient{{Address: "team@example.com", Original: "team@example.com"}},
		Body:         agent.NewMemBody([]byte(testBody)),
		StatusFilter: filter,
	}
	res := New(fx.cfg).Deliver(context.Background(), req)[0]
	expect(t, res, agent.Defer, "4.1.1", `unknown user: "nosuch"`)
	logged := strings.Join(fx.log.lines, "\n")
	if !strings.Contains(logged, `to=<nosuch@example.com>, orig_to=<team@example.com>, relay=local, delay=`) ||
		!strings.Contains(logged, `dsn=4.1.1, status=deferred (unknown user: "nosuch")`) {
		t.Errorf("the filtered outcome is not in the log:\n%s", logged)
	}
}
