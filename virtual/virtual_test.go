package virtual

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
)

const testBody = "Subject: hi\r\n\r\nFrom the start\r\nline two\r\n"

// fixture is a mailbox base directory and the configuration around it.
type fixture struct {
	t    *testing.T
	base string
	cfg  Config
	log  bytes.Buffer
	ran  [][2]int // the uid/gid pairs RunAs was called with
}

func newFixture(t *testing.T, mailbox, uid, gid string) *fixture {
	t.Helper()
	fx := &fixture{t: t, base: t.TempDir()}
	fx.cfg = Config{
		MailboxBase:     fx.base,
		MailboxMaps:     testMaps(t, mailbox),
		UIDMaps:         testMaps(t, uid),
		GIDMaps:         testMaps(t, gid),
		MinimumUID:      100,
		LockMethods:     []string{"fcntl", "dotlock"},
		LockAttempts:    2,
		StrictOwnership: false,
		RunAs: func(u, g int, fn func()) error {
			fx.ran = append(fx.ran, [2]int{u, g})
			fn()
			return nil
		},
	}
	fx.cfg.Log = maillog.NewWriter(&fx.log, "tern/virtual")
	return fx
}

func testMaps(t *testing.T, list string) []maps.Map {
	t.Helper()
	specs, err := maps.SplitSpecs(list)
	if err != nil {
		t.Fatal(err)
	}
	ms, _, err := maps.OpenList(specs, maps.Options{})
	if err != nil {
		t.Fatalf("open %q: %v", list, err)
	}
	t.Cleanup(func() { maps.CloseAll(ms) })
	return ms
}

// deliver sends one message to the recipients and returns the results.
func (fx *fixture) deliver(body string, rcpts ...string) []agent.Result {
	fx.t.Helper()
	a, err := New(fx.cfg)
	if err != nil {
		fx.t.Fatal(err)
	}
	req := fx.request(rcpts...)
	req.Body = agent.NewMemBody([]byte(body))
	rs := a.Deliver(context.Background(), req)
	if len(rs) != len(rcpts) {
		fx.t.Fatalf("%d results for %d recipients", len(rs), len(rcpts))
	}
	return rs
}

// request is a delivery request from s@x.org to rcpts with testBody.
func (fx *fixture) request(rcpts ...string) *agent.Request {
	req := &agent.Request{Env: &envelope.Envelope{ID: "4ABC", Sender: "s@x.org"}, Transport: "virtual", Body: agent.NewMemBody([]byte(testBody))}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, envelope.Recipient{Address: r})
	}
	return req
}

// maildirMessages returns the contents of the messages in dir/new.
func maildirMessages(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, "new", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

func TestDeliver(t *testing.T) {
	const mailboxes = "inline:{ a@example.com=example.com/a/, b@example.com=example.com/b, " +
		"a+tag@example.com=example.com/tag/, @catch.org=catch.org/all/, boss@catch.org=catch.org/boss/, " +
		"deep@example.com=example.com/x/y/deep }"
	tests := []struct {
		name      string
		delim     string
		rcpt      string
		status    agent.Status
		dsn, text string
		maildir   string // a Maildir that must hold one message with want
		mbox      string // an mbox that must hold want
		want      []string
	}{
		{name: "maildir", rcpt: "a@example.com", status: agent.OK, dsn: "2.0.0", text: "delivered to maildir",
			maildir: "example.com/a", want: []string{"Return-Path: <s@x.org>\nX-Original-To: a@example.com\nDelivered-To: a@example.com\nSubject: hi\n\nFrom the start\nline two\n"}},
		{name: "mbox", rcpt: "b@example.com", status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
			mbox: "example.com/b", want: []string{"From s@x.org  ", "\nReturn-Path: <s@x.org>\nX-Original-To: b@example.com\nDelivered-To: b@example.com\nSubject: hi\n\n>From the start\nline two\n\n"}},
		{name: "mbox parent directories created", rcpt: "deep@example.com", status: agent.OK, dsn: "2.0.0",
			text: "delivered to mailbox", mbox: "example.com/x/y/deep", want: []string{"Delivered-To: deep@example.com\n"}},
		{name: "extension stripped", delim: "+", rcpt: "a+other@example.com", status: agent.OK, dsn: "2.0.0",
			maildir: "example.com/a", want: []string{"Delivered-To: a+other@example.com\n"}},
		{name: "full address before stripped", delim: "+", rcpt: "a+tag@example.com", status: agent.OK, dsn: "2.0.0",
			maildir: "example.com/tag", want: []string{"Delivered-To: a+tag@example.com\n"}},
		{name: "any delimiter character", delim: "-+", rcpt: "a-x@example.com", status: agent.OK, dsn: "2.0.0",
			maildir: "example.com/a", want: []string{"Delivered-To: a-x@example.com\n"}},
		{name: "no delimiter no stripping", rcpt: "a+other@example.com", status: agent.Bounce, dsn: "5.1.1",
			text: `unknown user: "a+other@example.com"`},
		{name: "catch-all", rcpt: "who@catch.org", status: agent.OK, dsn: "2.0.0",
			maildir: "catch.org/all", want: []string{"Delivered-To: who@catch.org\n"}},
		{name: "user before catch-all", rcpt: "boss@catch.org", status: agent.OK, dsn: "2.0.0",
			maildir: "catch.org/boss", want: []string{"Delivered-To: boss@catch.org\n"}},
		{name: "case folded", rcpt: "A@Example.COM", status: agent.OK, dsn: "2.0.0",
			maildir: "example.com/a", want: []string{"Delivered-To: A@Example.COM\n"}},
		{name: "unknown user", rcpt: "Nobody@Example.com", status: agent.Bounce, dsn: "5.1.1",
			text: `unknown user: "nobody@example.com"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, mailboxes, "static:5000", "static:5001")
			fx.cfg.RecipientDelimiter = tc.delim
			r := fx.deliver(testBody, tc.rcpt)[0]
			if r.Status != tc.status || r.DSN != tc.dsn || !strings.Contains(r.Text, tc.text) || r.Relay != "virtual" {
				t.Fatalf("result %+v, want %v %s %q", r, tc.status, tc.dsn, tc.text)
			}
			got := ""
			switch {
			case tc.maildir != "":
				msgs := maildirMessages(t, filepath.Join(fx.base, tc.maildir))
				if len(msgs) != 1 {
					t.Fatalf("%d messages in %s", len(msgs), tc.maildir)
				}
				got = msgs[0]
			case tc.mbox != "":
				got = readFile(t, filepath.Join(fx.base, tc.mbox))
			}
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("mailbox lacks %q:\n%s", w, got)
				}
			}
			if tc.status == agent.OK && (len(fx.ran) != 1 || fx.ran[0] != [2]int{5000, 5001}) {
				t.Errorf("ran as %v, want uid 5000 gid 5001", fx.ran)
			}
		})
	}
}

func TestMaildirLayout(t *testing.T) {
	fx := newFixture(t, "inline:{ a@example.com=example.com/a/ }", "static:5000", "static:5000")
	for i := 0; i < 3; i++ {
		if r := fx.deliver(testBody, "a@example.com")[0]; r.Status != agent.OK {
			t.Fatalf("delivery %d: %+v", i, r)
		}
	}
	dir := filepath.Join(fx.base, "example.com", "a")
	for _, sub := range []string{"cur", "new", "tmp"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", sub, fi, err)
		}
	}
	if n := len(maildirMessages(t, dir)); n != 3 {
		t.Fatalf("%d messages, want 3 with distinct names", n)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp/ not empty: %v", ents)
	}
}

// TestTableSearchOrder checks that each key is tried in every table
// before the next: a full address in the second table beats a catch-all
// in the first.
func TestTableSearchOrder(t *testing.T) {
	fx := newFixture(t, "inline:{ @example.com=all/ } inline:{ a@example.com=a/ }", "static:5000", "static:5000")
	if r := fx.deliver(testBody, "a@example.com")[0]; r.Status != agent.OK {
		t.Fatal(r)
	}
	if len(maildirMessages(t, filepath.Join(fx.base, "a"))) != 1 || len(maildirMessages(t, filepath.Join(fx.base, "all"))) != 0 {
		t.Fatal("full address in the second table did not win over the first table's catch-all")
	}
}

func TestTexthashMaps(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return "texthash:" + p
	}
	mb := write("vmailbox", "# mailboxes\nalice@example.com example.com/alice/\n@example.com example.com/catchall\n")
	uids := write("uids", "alice@example.com 5001\n@example.com 5002\n")
	fx := newFixture(t, mb, uids, "static:5000")
	rs := fx.deliver(testBody, "alice@example.com", "bob@example.com", "x@other.org")
	want := []agent.Status{agent.OK, agent.OK, agent.Bounce}
	for i, r := range rs {
		if r.Status != want[i] {
			t.Errorf("recipient %d: %+v", i, r)
		}
	}
	if len(fx.ran) != 2 || fx.ran[0] != [2]int{5001, 5000} || fx.ran[1] != [2]int{5002, 5000} {
		t.Errorf("ran as %v", fx.ran)
	}
	if !strings.Contains(readFile(t, filepath.Join(fx.base, "example.com", "catchall")), "Delivered-To: bob@example.com\n") {
		t.Error("catch-all mbox lacks bob's message")
	}
}

func TestDeliverFailures(t *testing.T) {
	const mb = "inline:{ a@example.com=example.com/a/ }"
	tests := []struct {
		name         string
		mailbox      string
		uid, gid     string
		status       agent.Status
		dsn, text    string
		warn         string
		minUID       int
		wantRunCalls int
	}{
		{name: "mailbox lookup error", mailbox: "fail:vmailbox", uid: "static:5000", gid: "static:5000",
			status: agent.Defer, dsn: "4.3.0", text: "mail system configuration error", warn: "table virtual_mailbox_maps: lookup a@example.com"},
		{name: "uid below minimum", mailbox: mb, uid: "static:99", gid: "static:5000", minUID: 100,
			status: agent.Defer, dsn: "4.3.5", text: "mail system configuration error", warn: "recipient a@example.com: bad uid 99 in virtual_uid_maps"},
		{name: "uid at minimum", mailbox: mb, uid: "static:100", gid: "static:5000", minUID: 100,
			status: agent.OK, dsn: "2.0.0", text: "delivered to maildir", wantRunCalls: 1},
		{name: "uid not a number", mailbox: mb, uid: "static:vmail", gid: "static:5000",
			status: agent.Defer, dsn: "4.3.5", text: "mail system configuration error", warn: "bad uid vmail"},
		{name: "uid missing", mailbox: mb, uid: "inline:{ other@example.com=5000 }", gid: "static:5000",
			status: agent.Defer, dsn: "4.3.5", text: "mail system configuration error", warn: "recipient a@example.com: not found in virtual_uid_maps"},
		{name: "uid lookup error", mailbox: mb, uid: "fail:uids", gid: "static:5000",
			status: agent.Defer, dsn: "4.3.5", text: "mail system configuration error", warn: "table virtual_uid_maps: lookup a@example.com"},
		{name: "gid zero", mailbox: mb, uid: "static:5000", gid: "static:0",
			status: agent.Defer, dsn: "4.3.5", text: "mail system configuration error", warn: "bad gid 0 in virtual_gid_maps"},
		{name: "gid missing", mailbox: mb, uid: "static:5000", gid: "",
			status: agent.Defer, dsn: "4.3.5", text: "mail system configuration error", warn: "not found in virtual_gid_maps"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, tc.mailbox, tc.uid, tc.gid)
			fx.cfg.MinimumUID = tc.minUID
			r := fx.deliver(testBody, "a@example.com")[0]
			if r.Status != tc.status || r.DSN != tc.dsn || r.Text != tc.text {
				t.Fatalf("result %+v, want %v %s %q", r, tc.status, tc.dsn, tc.text)
			}
			if !strings.Contains(fx.log.String(), tc.warn) {
				t.Errorf("log lacks %q:\n%s", tc.warn, fx.log.String())
			}
			if len(fx.ran) != tc.wantRunCalls {
				t.Errorf("delivery ran %d times, want %d", len(fx.ran), tc.wantRunCalls)
			}
		})
	}
}

func TestMailboxLimit(t *testing.T) {
	big := testBody + strings.Repeat("0123456789\n", 100)
	tests := []struct {
		name, target, text string
	}{
		{"mbox", "example.com/b", "delivery failed to mailbox %s: error writing message: File too large"},
		{"maildir", "example.com/a/", "maildir delivery failed: error writing message: File too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, "inline:{ u@example.com="+tc.target+" }", "static:5000", "static:5000")
			fx.cfg.MailboxLimit = 500
			if r := fx.deliver(testBody, "u@example.com")[0]; r.Status != agent.OK {
				t.Fatalf("small message: %+v", r)
			}
			path := filepath.Join(fx.base, tc.target)
			before := readFile(t, path)
			r := fx.deliver(big, "u@example.com")[0]
			want := strings.Replace(tc.text, "%s", path, 1)
			if r.Status != agent.Bounce || r.DSN != "5.2.2" || r.Text != want {
				t.Fatalf("result %+v, want bounce 5.2.2 %q", r, want)
			}
			if tc.name == "mbox" && readFile(t, path) != before {
				t.Fatal("mbox not truncated back")
			}
			if tc.name == "maildir" {
				if n := len(maildirMessages(t, path)); n != 1 {
					t.Fatalf("%d messages in maildir, want 1", n)
				}
				if ents, _ := os.ReadDir(filepath.Join(path, "tmp")); len(ents) != 0 {
					t.Fatalf("tmp/ not cleaned: %v", ents)
				}
			}
		})
	}
}

func TestRelativeBaseRefused(t *testing.T) {
	for _, base := range []string{"var/mail/vhosts", "./vhosts"} {
		if _, err := New(Config{MailboxBase: base}); err == nil || !strings.Contains(err.Error(), "do not specify relative pathname") {
			t.Errorf("base %q: %v", base, err)
		}
	}
}

// TestUnsetBaseDefers pins the bug where the virtual agent of the default
// master.cf exited at start, and was restarted over and over, on every
// system without virtual mailboxes: an unset virtual_mailbox_base now
// starts the agent and defers what it is given.
func TestUnsetBaseDefers(t *testing.T) {
	var log bytes.Buffer
	a, err := New(Config{Log: maillog.NewWriter(&log, "tern/virtual")})
	if err != nil {
		t.Fatalf("New with an unset base: %v", err)
	}
	req := &agent.Request{Env: &envelope.Envelope{ID: "Q1"}, Recipients: []envelope.Recipient{{Address: "u@vhost.example"}},
		Body: agent.NewMemBody([]byte("Subject: x\n\nbody\n"))}
	res := a.Deliver(context.Background(), req)
	if res[0].Status != agent.Defer || res[0].DSN != "4.3.5" {
		t.Errorf("result %+v, want a 4.3.5 deferral", res[0])
	}
	if !strings.Contains(log.String(), "virtual_mailbox_base is not set") {
		t.Errorf("no warning logged: %q", log.String())
	}
}

func TestLookupKeys(t *testing.T) {
	tests := []struct {
		addr, delim string
		want        []string
	}{
		{"u@d.org", "", []string{"u@d.org", "@d.org"}},
		{"u+x@d.org", "+", []string{"u+x@d.org", "u@d.org", "@d.org"}},
		{"u+x-y@d.org", "-+", []string{"u+x-y@d.org", "u@d.org", "@d.org"}},
		{"+x@d.org", "+", []string{"+x@d.org", "@d.org"}},
		{"u", "+", []string{"u"}},
		{"u+x", "+", []string{"u+x", "u"}},
		{"u@", "", []string{"u@"}},
		{`"a@b"@d.org`, "", []string{`"a@b"@d.org`, "@d.org"}},
	}
	for _, tc := range tests {
		got := lookupKeys(tc.addr, tc.delim)
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("lookupKeys(%q, %q) = %q, want %q", tc.addr, tc.delim, got, tc.want)
		}
	}
}

func TestDeliverInterrupted(t *testing.T) {
	fx := newFixture(t, "inline:{ a@example.com=a/ }", "static:5000", "static:5000")
	a, err := New(fx.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := &agent.Request{Env: &envelope.Envelope{ID: "Q"}, Recipients: []envelope.Recipient{{Address: "a@example.com"}},
		Body: agent.NewMemBody([]byte(testBody))}
	if r := a.Deliver(ctx, req)[0]; r.Status != agent.Defer || len(fx.ran) != 0 {
		t.Fatalf("%+v, ran %v", r, fx.ran)
	}
}

func TestOriginalRecipientHeader(t *testing.T) {
	fx := newFixture(t, "inline:{ a@example.com=a/ }", "static:5000", "static:5000")
	a, err := New(fx.cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := &agent.Request{Env: &envelope.Envelope{ID: "Q", Sender: ""},
		Recipients: []envelope.Recipient{{Address: "a@example.com", Original: "alias@example.net"}},
		Body:       agent.NewMemBody([]byte(testBody))}
	if r := a.Deliver(context.Background(), req)[0]; r.Status != agent.OK {
		t.Fatal(r)
	}
	msgs := maildirMessages(t, filepath.Join(fx.base, "a"))
	want := "Return-Path: <>\nX-Original-To: alias@example.net\nDelivered-To: a@example.com\n"
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) {
		t.Fatalf("got %q, want prefix %q", msgs, want)
	}
}

func TestRunAs(t *testing.T) {
	ran := 0
	fn := func() { ran++ }
	if err := runAs(1000, 1000, 1000, fn); err != nil || ran != 1 {
		t.Fatalf("own uid: %v, ran %d", err, ran)
	}
	err := runAs(1000, 5000, 5000, fn)
	if err == nil || ran != 1 || !strings.Contains(err.Error(), "not running as root") {
		t.Fatalf("other uid: %v, ran %d", err, ran)
	}
	if os.Geteuid() == 0 {
		if err := DefaultRunAs(0, os.Getegid(), fn); err != nil || ran != 2 {
			t.Fatalf("root as root: %v, ran %d", err, ran)
		}
	}
}

func TestUnprivilegedDeliveryToOtherUIDDefers(t *testing.T) {
	fx := newFixture(t, "inline:{ a@example.com=a/ }", "static:5000", "static:5000")
	fx.cfg.RunAs = func(uid, gid int, fn func()) error { return runAs(1000, uid, gid, fn) }
	a, err := New(fx.cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := fx.request("a@example.com")
	r := a.Deliver(context.Background(), req)[0]
	if r.Status != agent.Defer || r.DSN != "4.3.0" || !strings.Contains(r.Text, "not running as root") {
		t.Fatalf("result %+v", r)
	}
}
