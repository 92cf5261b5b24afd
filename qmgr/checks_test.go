package qmgr

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/message"
	"github.com/tern-mta/tern/pkg/queue"
)

func TestSplitCheckDSN(t *testing.T) {
	for in, want := range map[string][2]string{
		"5.7.0 no thanks": {"5.7.0", "no thanks"},
		"4.7.1 later":     {"5.7.1", "later"},
		"no thanks":       {"5.7.1", "no thanks"},
		"":                {"5.7.1", ""},
		"5.7 short":       {"5.7.1", "5.7 short"},
	} {
		if dsn, rest := splitCheckDSN(in, "5.7.1"); dsn != want[0] || rest != want[1] {
			t.Errorf("splitCheckDSN(%q) = %q %q, want %q %q", in, dsn, rest, want[0], want[1])
		}
	}
}

// checksMTA runs a manager with header and body checks from a regexp
// table.
func checksMTA(t *testing.T) *testMTA {
	t.Helper()
	dir := t.TempDir()
	table := filepath.Join(dir, "checks")
	rules := `/^Subject: .*viagra/        REJECT 5.7.0 no pharmacy spam here
/^Subject: .*lottery/       DISCARD lottery
/^Subject: .*review me/     HOLD suspicious
/^X-Internal:/              IGNORE
/^X-Flag: (.*)$/            REPLACE X-Flag: checked $1
/^Subject: tag me/          PREPEND X-Tagged: yes
/^X-Look:/                  WARN looked at it
/^Content-Type: .*name="?[^"]*\.exe"?/ REJECT executable attachment
/^pay now at/               REJECT body rejected
/^drop this line/           IGNORE
/^X-Odd:/                   BCC other@example.com
`
	if err := os.WriteFile(table, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	return newMTA(t, "header_checks = regexp:"+table+"\nbody_checks = regexp:"+table+"\n", nil)
}

// cleanupSubmit sends a message to cleanup as smtpd does and returns the
// reply.
func (h *testMTA) cleanupSubmit(body string) map[string]string {
	h.t.Helper()
	env := &envelope.Envelope{Sender: "alice@remote.org", ClientName: "client.remote.org",
		ClientAddr: "192.0.2.9", Helo: "client", Protocol: "ESMTP"}
	req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "bob@example.com"}))
	reply, c := h.call("cleanup", req, []byte(body))
	c.Close()
	out := map[string]string{}
	for _, a := range reply {
		out[a.Name] = a.Value
	}
	return out
}

func TestContentChecks(t *testing.T) {
	h := checksMTA(t)
	tests := []struct {
		name, body string
		status     string
		smtp, dsn  string
		text, log  string
	}{
		{name: "header reject", body: "Subject: cheap viagra\n\nx\n", status: "error", smtp: "550", dsn: "5.7.0", text: "no pharmacy spam here",
			log: ": reject: header Subject: cheap viagra from client.remote.org[192.0.2.9]; from=<alice@remote.org> to=<bob@example.com> proto=ESMTP helo=<client>: 5.7.0 no pharmacy spam here"},
		{name: "folded header", body: "Subject: cheap\n viagra\n\nx\n", status: "error", smtp: "550", text: "no pharmacy spam here"},
		{name: "body reject", body: "Subject: hi\n\nhello\npay now at example.net\n", status: "error", smtp: "550", dsn: "5.7.1", text: "body rejected",
			log: ": reject: body pay now at example.net from client.remote.org[192.0.2.9]"},
		{name: "attachment reject", body: "Subject: hi\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: application/octet-stream; name=\"x.exe\"\n\nTVqQ\n--b--\n",
			status: "error", smtp: "550", text: "executable attachment"},
		{name: "discard", body: "Subject: you won the lottery\n\nx\n", status: "ok", log: ": discard: header Subject: you won the lottery from"},
		{name: "warn and unsupported", body: "Subject: hi\nX-Look: here\nX-Odd: yes\n\nx\n", status: "ok", log: ": warning: header X-Look: here from client.remote.org[192.0.2.9]; from=<alice@remote.org> to=<bob@example.com> proto=ESMTP helo=<client>: looked at it"},
	}
	for _, tt := range tests {
		r := h.cleanupSubmit(tt.body)
		if r["status"] != tt.status || r["smtp"] != tt.smtp || tt.dsn != "" && r["dsn"] != tt.dsn || tt.text != "" && r["text"] != tt.text {
			t.Errorf("%s: reply %v", tt.name, r)
		}
		if tt.log != "" && !strings.Contains(h.log.String(), tt.log) {
			t.Errorf("%s: no %q in the log:\n%s", tt.name, tt.log, h.log.String())
		}
	}
	if !strings.Contains(h.log.String(), "action BCC is not supported by tern") {
		t.Errorf("no warning about BCC:\n%s", h.log.String())
	}
	// Only the warned message was delivered: nothing rejected or
	// discarded reached the agent.
	h.waitRequests(1)
	h.waitEmpty()
	if n := len(h.agent.requests()); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
}

func TestContentChecksEditAndHold(t *testing.T) {
	h := checksMTA(t)
	r := h.cleanupSubmit("Subject: tag me\nX-Flag: yes\nX-Internal: secret\n\nkeep this\ndrop this line\nand this\n")
	if r["status"] != "ok" {
		t.Fatalf("reply %v", r)
	}
	body := h.waitRequests(1)[0].body
	for _, want := range []string{"\nX-Tagged: yes\nSubject: tag me\nX-Flag: checked yes\n", "\n\nkeep this\nand this\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("delivered message lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "X-Internal") || strings.Contains(body, "drop this line") {
		t.Errorf("an IGNOREd line was delivered:\n%s", body)
	}
	r = h.cleanupSubmit("Subject: please review me\n\nx\n")
	if r["status"] != "ok" {
		t.Fatalf("hold: reply %v", r)
	}
	h.waitState(r["id"], queue.Hold)
	h.waitLog(r["id"] + ": hold: header Subject: please review me from client.remote.org[192.0.2.9]")
}

// TestContentFilterRoutesEveryRecipient: with content_filter, mail from
// sendmail goes to the filter's transport and next hop whatever its
// recipients' own routes; forwarded mail and a client's "filter"
// attribute on the pickup socket do not choose a filter.
func TestContentFilterRoutesEveryRecipient(t *testing.T) {
	h := newMTA(t, "content_filter = filter:[127.0.0.1]:10024\n", nil)
	h.startAgent("filter")
	h.submit(rcpts("joe@example.com", "ann@remote.example"), "Subject: filtered\n\nx\n")
	reqs := h.waitRequests(1)
	h.waitEmpty()
	if len(reqs) != 1 || reqs[0].transport != "filter" || reqs[0].nexthop != "[127.0.0.1]:10024" || len(reqs[0].rcpts) != 2 {
		t.Fatalf("%d requests, want one to filter:[127.0.0.1]:10024 with both recipients: %+v", len(reqs), reqs)
	}
	if reqs[0].env.Filter != "filter:[127.0.0.1]:10024" {
		t.Errorf("stored filter %q", reqs[0].env.Filter)
	}
}

func TestContentFilterFromSMTPService(t *testing.T) {
	h := newMTA(t, "", nil)
	env := &envelope.Envelope{Sender: "alice@remote.org", ClientName: "client.remote.org",
		ClientAddr: "192.0.2.9", Helo: "client", Protocol: "ESMTP", Filter: "local:"}
	req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "bob@example.com"}))
	reply, c := h.call("cleanup", req, []byte("Subject: x\n\nx\n"))
	c.Close()
	if reply.Get("status") != "ok" {
		t.Fatalf("reply %v", reply)
	}
	// "local:" has no next hop: the recipient's domain is used.
	if r := h.waitRequests(1)[0]; r.nexthop != "example.com" {
		t.Errorf("next hop %q, want example.com", r.nexthop)
	}
	// A sendmail client can't pick a filter.
	h.submit(append(rcpts("joe@example.com"), ipc.Attr{Name: "filter", Value: "local:evil"}), "Subject: y\n\ny\n")
	if r := h.waitRequests(2)[1]; r.env.Filter != "" || r.nexthop == "evil" {
		t.Errorf("sendmail chose a filter: %q %q", r.env.Filter, r.nexthop)
	}
}

// TestReceiveOverrides: a service's receive_override_options reach
// cleanup: no_header_body_checks skips the checks, no_address_mappings
// the virtual aliases.
func TestReceiveOverrides(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(dir, "checks")
	if err := os.WriteFile(table, []byte("/^Subject: reject me/ REJECT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newMTA(t, "header_checks = regexp:"+table+"\nvirtual_alias_maps = inline:{ bob@example.com=joe@example.com }\n", nil)
	send := func(overrides ...string) map[string]string {
		env := &envelope.Envelope{Sender: "alice@remote.org", ClientName: "c", ClientAddr: "192.0.2.9", Helo: "c", Protocol: "ESMTP"}
		req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "bob@example.com"}))
		for _, o := range overrides {
			req = req.Add("override", o)
		}
		reply, c := h.call("cleanup", req, []byte("Subject: reject me\n\nx\n"))
		c.Close()
		return map[string]string{"status": reply.Get("status"), "smtp": reply.Get("smtp")}
	}
	if r := send(); r["status"] != "error" || r["smtp"] != "550" {
		t.Errorf("without overrides: %v, want a 550 rejection", r)
	}
	if r := send("no_header_body_checks", "no_address_mappings"); r["status"] != "ok" {
		t.Fatalf("with overrides: %v", r)
	}
	if r := h.waitRequests(1)[0]; len(r.rcpts) != 1 || r.rcpts[0].Address != "bob@example.com" {
		t.Errorf("recipients %+v: no_address_mappings should keep bob", r.rcpts)
	}
}

// TestAutomaticBCC: always_bcc and recipient_bcc_maps add copies with
// NOTIFY=NEVER to mail from outside, expanded like other recipients; mail
// that local(8) forwards gets none.
func TestAutomaticBCC(t *testing.T) {
	h := newMTA(t, "always_bcc = archive\nrecipient_bcc_maps = inline:{ help@example.com=help-log@example.com }\n"+
		"virtual_alias_maps = inline:{ help-log@example.com=log@example.com }\n", nil)
	h.submit(rcpts("help@example.com"), "Subject: help\n\nx\n")
	h.waitEmpty()
	got := map[string]string{}
	for _, r := range h.agent.requests() {
		for _, rc := range r.rcpts {
			got[rc.Address] = rc.Notify
		}
	}
	want := map[string]string{"help@example.com": "", "archive@example.com": "NEVER", "log@example.com": "NEVER"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("recipients %v, want %v", got, want)
	}
	before := len(h.agent.requests())
	env := &envelope.Envelope{Sender: "alice@remote.org"}
	req := env.Record().Add("request", "submit").Add("origin", "forward").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "joe@example.com"}))
	reply, c := h.call("cleanup", req, []byte("Subject: forwarded\n\nx\n"))
	c.Close()
	if reply.Get("status") != "ok" {
		t.Fatalf("forward: %v", reply)
	}
	h.waitEmpty()
	for _, r := range h.agent.requests()[before:] {
		for _, rc := range r.rcpts {
			if rc.Address != "joe@example.com" {
				t.Errorf("forwarded mail got a copy to %s", rc.Address)
			}
		}
	}
}

// TestRedirectAndFilterActions: a REDIRECT from smtpd's restrictions or
// from header_checks sends the message to its address alone (expanded by
// virtual aliases); a FILTER from header_checks routes it to the filter.
func TestRedirectAndFilterActions(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(dir, "checks")
	if err := os.WriteFile(table, []byte("/^Subject: quarantine/ REDIRECT quarantine@example.com\n/^Subject: scan me/ FILTER filter:[127.0.0.1]:10024\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newMTA(t, "header_checks = regexp:"+table+"\nvirtual_alias_maps = inline:{ quarantine@example.com=qbox@example.com }\n", nil)
	h.startAgent("filter")
	send := func(subject, redirectTo string) {
		t.Helper()
		env := &envelope.Envelope{Sender: "alice@remote.org", ClientName: "c", ClientAddr: "192.0.2.9", Helo: "c", Protocol: "ESMTP"}
		req := env.Record().Add("request", "submit")
		for _, r := range []string{"bob@example.com", "carol@example.com"} {
			req = req.Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: r}))
		}
		if redirectTo != "" {
			req = req.Add("redirect", redirectTo)
		}
		reply, c := h.call("cleanup", req, []byte("Subject: "+subject+"\n\nx\n"))
		c.Close()
		if reply.Get("status") != "ok" {
			t.Fatalf("%s: %v", subject, reply)
		}
		h.waitEmpty()
	}
	last := func() []string {
		reqs := h.agent.requests()
		var out []string
		for _, rc := range reqs[len(reqs)-1].rcpts {
			out = append(out, reqs[len(reqs)-1].transport+":"+rc.Address)
		}
		return out
	}
	send("hello", "postmaster@example.com")
	if got := fmt.Sprint(last()); got != "[local:postmaster@example.com]" {
		t.Errorf("smtpd REDIRECT: delivered to %s", got)
	}
	send("quarantine this", "")
	if got := fmt.Sprint(last()); got != "[local:qbox@example.com]" {
		t.Errorf("header_checks REDIRECT: delivered to %s", got)
	}
	send("scan me", "")
	if got := fmt.Sprint(last()); got != "[filter:bob@example.com filter:carol@example.com]" {
		t.Errorf("header_checks FILTER: delivered to %s", got)
	}
	h.waitLog(": redirect: header Subject: quarantine this from c[192.0.2.9]")
}

// TestStripAction: STRIP was reported as unsupported and the field kept;
// it drops the field and logs "strip:", as Postfix's cleanup does.
func TestStripAction(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader("header_checks = inline:{ {x-secret: yes=STRIP private header} }\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := newContentChecks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var buf syncBuffer
	in := inspect(c, &envelope.Envelope{ID: "4QueueId1", Sender: "a@b.example"}, maillog.NewWriter(&buf, "tern/cleanup"))
	if e := in.inspector().Header(message.PrimaryHeader, "X-Secret: yes"); !e.Drop {
		t.Errorf("STRIP kept the field: %+v", e)
	}
	if e := in.inspector().Header(message.PrimaryHeader, "Subject: hello"); e.Drop {
		t.Error("an unmatched field was dropped")
	}
	if !strings.Contains(buf.String(), "4QueueId1: strip: header X-Secret: yes from local; from=<a@b.example> to=<>: private header") {
		t.Errorf("log: %q", buf.String())
	}
}

// TestAliasedToOneMailbox: two recipients that virtual_alias_maps sends
// to one address were one delivery, unlike Postfix, whose cleanup keeps
// one copy per original recipient (enable_original_recipient = yes) so
// that X-Original-To tells them apart; with no, one copy.
func TestAliasedToOneMailbox(t *testing.T) {
	for _, tt := range []struct {
		conf string
		want []string // originals of the copies to joe
	}{
		{"", []string{"bob@example.com", "sales@example.com"}},
		{"enable_original_recipient = no\n", []string{""}},
	} {
		h := newMTA(t, tt.conf+"virtual_alias_maps = inline:{ bob@example.com=joe@example.com, sales@example.com=joe@example.com }\n", nil)
		h.submit(rcpts("bob@example.com", "sales@example.com", "joe@example.com"), "Subject: x\n\nx\n")
		h.waitEmpty()
		var got []string
		for _, r := range h.agent.requests() {
			for _, rc := range r.rcpts {
				if rc.Address == "joe@example.com" && rc.Original != "joe@example.com" {
					got = append(got, rc.Original)
				}
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: copies to joe from %q, want %q", tt.conf, got, tt.want)
		}
	}
}

// TestStrictMIMERejects: strict_8bitmime and its relatives were unknown
// names. A message they find fault with is refused with 5.6.0 and logged
// as Postfix's cleanup logs it; a clean one is queued.
func TestStrictMIMERejects(t *testing.T) {
	h := newMTA(t, "strict_8bitmime = yes\n", nil)
	reply, c := h.call("cleanup", (&envelope.Envelope{Sender: "a@remote.org", ClientName: "c", ClientAddr: "192.0.2.9", Helo: "c", Protocol: "ESMTP"}).Record().
		Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "joe@example.com"})), []byte("Subject: x\n\ncaf\xc3\xa9\n"))
	c.Close()
	if reply.Get("status") != "error" || reply.Get("dsn") != "5.6.0" || reply.Get("smtp") != "550" || reply.Get("text") != message.MIME8BitBody {
		t.Errorf("8-bit body: %v", reply)
	}
	h.waitLog(": reject: mime-error improper use of 8-bit data in message body: caf\xc3\xa9 from c[192.0.2.9]; from=<a@remote.org> to=<joe@example.com> proto=ESMTP helo=<c>")
	h.submit(rcpts("joe@example.com"), "Content-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n")
	if n := len(h.waitRequests(1)); n != 1 {
		t.Errorf("%d deliveries of the declared 8-bit message", n)
	}
}

// TestInternalMailFilterClasses: smtpd's postmaster notices went through
// header_checks (and non_smtpd_milters), which Postfix applies to the
// mail system's own mail only when internal_mail_filter_classes names
// its class; that parameter was an unknown name. A notice now passes
// unchecked by default and is checked with "notify".
func TestInternalMailFilterClasses(t *testing.T) {
	table := filepath.Join(t.TempDir(), "checks")
	if err := os.WriteFile(table, []byte("/^Subject: .*transcript/ REJECT no transcripts\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		classes, want string
	}{{"", "ok"}, {"notify", "error"}, {"bounce", "ok"}} {
		h := newMTA(t, "header_checks = regexp:"+table+"\ninternal_mail_filter_classes = "+tt.classes+"\n", nil)
		env := &envelope.Envelope{Sender: "double-bounce@example.com"}
		req := env.Record().Add("request", "submit").Add("origin", "notice").
			Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "postmaster@example.com"}))
		reply, c := h.call("cleanup", req, []byte("Subject: Postfix SMTP server: errors (transcript)\n\nx\n"))
		c.Close()
		if got := reply.Get("status"); got != tt.want {
			t.Errorf("internal_mail_filter_classes = %q: the notice got %q (%v), want %q", tt.classes, got, reply, tt.want)
		}
		h.stop()
	}
}
