package dsn

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	arrival = time.Date(2026, 11, 23, 11, 50, 0, 0, time.UTC)
	now     = time.Date(2026, 11, 23, 15, 51, 54, 0, time.UTC)
)

const origMsg = "Received: by mail.example.com (tern, from userid 1000)\n\tid 4Xk2abc; x\n" +
	"From: alice@example.com\nSubject: hello\n\nThe body.\n--not-a-boundary\nlast line\n"

func baseReport(kind Action) Report {
	return Report{
		ReportingMTA: "mail.example.com", QueueID: "4Xk2abc", Arrival: arrival, Now: now,
		Sender: "alice@example.com", Kind: kind,
		Recipients: []RecipientReport{{
			FinalRecipient:    "bob@remote.example",
			OriginalRecipient: "rfc822;Bob+x@remote.example",
			Status:            "5.1.1", DiagnosticType: "smtp",
			Diagnostic:  "550 5.1.1 <bob@remote.example>: Recipient address rejected",
			RemoteMTA:   "dns; mx.remote.example",
			LastAttempt: now,
		}, {
			FinalRecipient: "nosuchuser@mail.example.com",
			Action:         "", Status: "bogus", Diagnostic: "unknown user: \"nosuchuser\"",
		}},
	}
}

// parsed is a notification taken apart with the standard library.
type parsed struct {
	hdr    mail.Header
	parts  []*multipart.Part
	bodies []string
}

func parse(t *testing.T, raw string) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("content type %q %v: %v", mt, params, err)
	}
	p := parsed{hdr: msg.Header}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i := 0; i < 10; i++ {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatalf("part %d body: %v", i, err)
		}
		p.parts = append(p.parts, part)
		p.bodies = append(p.bodies, string(body))
	}
	return p
}

// statusBlocks parses a message/delivery-status body into field blocks.
func statusBlocks(t *testing.T, body string) []textproto.MIMEHeader {
	t.Helper()
	var out []textproto.MIMEHeader
	for _, blk := range strings.Split(strings.TrimRight(body, "\n"), "\n\n") {
		h, err := textproto.NewReader(bufio.NewReader(strings.NewReader(blk + "\n\n"))).ReadMIMEHeader()
		if err != nil {
			t.Fatalf("status block %q: %v", blk, err)
		}
		out = append(out, h)
	}
	return out
}

func checkFields(t *testing.T, what string, h textproto.MIMEHeader, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got, ok := h[textproto.CanonicalMIMEHeaderKey(k)]
		switch {
		case v == "" && ok:
			t.Errorf("%s: unexpected %s: %q", what, k, got)
		case v != "" && (len(got) != 1 || got[0] != v):
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name      string
		kind      Action
		ret       string
		subject   string
		text      []string
		lastDesc  string
		lastType  string
		lastBody  string
		rcptExtra map[string]string
	}{
		{"bounce full", Failed, "", "Undelivered Mail Returned to Sender",
			[]string{"could not\nbe delivered", "<bob@remote.example> (expanded from <Bob+x@remote.example>): host\n    mx.remote.example said: 550 5.1.1",
				"<nosuchuser@mail.example.com>: unknown user: \"nosuchuser\""},
			"Undelivered Message", "message/rfc822", origMsg,
			map[string]string{"Will-Retry-Until": ""}},
		{"bounce hdrs", Failed, "HDRS", "Undelivered Mail Returned to Sender",
			[]string{"could not\nbe delivered"},
			"Undelivered Message Headers", "text/rfc822-headers", origMsg[:strings.Index(origMsg, "\n\n")+1],
			nil},
		{"delay", Delayed, "", "Delayed Mail (still being retried)",
			[]string{"warning only", "failing for 4 hours", "until Sat, 28 Nov 2026"},
			"Undelivered Message Headers", "text/rfc822-headers", origMsg[:strings.Index(origMsg, "\n\n")+1],
			map[string]string{"Will-Retry-Until": "Sat, 28 Nov 2026 11:50:00 +0000 (UTC)"}},
		{"success", Delivered, "FULL", "Successful Mail Delivery Report",
			[]string{"has been delivered"},
			"Delivered Message Headers", "text/rfc822-headers", origMsg[:strings.Index(origMsg, "\n\n")+1],
			map[string]string{"Will-Retry-Until": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := baseReport(tt.kind)
			rep.Ret = tt.ret
			rep.EnvID = "env+2B1"
			for i := range rep.Recipients {
				rep.Recipients[i].WillRetryUntil = arrival.Add(5 * 24 * time.Hour)
			}
			var out bytes.Buffer
			if err := Write(&out, rep, strings.NewReader(origMsg)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if strings.Contains(out.String(), "\r") {
				t.Error("CR in output")
			}
			p := parse(t, out.String())
			checkFields(t, "header", textproto.MIMEHeader(p.hdr), map[string]string{
				"From":                      "MAILER-DAEMON@mail.example.com (Mail Delivery System)",
				"Subject":                   tt.subject,
				"To":                        "alice@example.com",
				"Auto-Submitted":            "auto-replied",
				"MIME-Version":              "1.0",
				"Content-Transfer-Encoding": "8bit",
				"Message-Id":                "<20261123155154.4Xk2abc." + string(tt.kind) + "@mail.example.com>",
				"Date":                      "Mon, 23 Nov 2026 15:51:54 +0000 (UTC)",
			})
			if len(p.parts) != 3 {
				t.Fatalf("%d parts, want 3", len(p.parts))
			}
			checkFields(t, "part 1", p.parts[0].Header, map[string]string{
				"Content-Description": "Notification", "Content-Type": "text/plain; charset=us-ascii"})
			for _, s := range tt.text {
				if !strings.Contains(p.bodies[0], s) {
					t.Errorf("text lacks %q:\n%s", s, p.bodies[0])
				}
			}
			checkFields(t, "part 2", p.parts[1].Header, map[string]string{
				"Content-Description": "Delivery report", "Content-Type": "message/delivery-status"})
			checkStatus(t, p.bodies[1], tt.kind, tt.rcptExtra)
			checkFields(t, "part 3", p.parts[2].Header, map[string]string{
				"Content-Description": tt.lastDesc, "Content-Type": tt.lastType})
			if p.bodies[2] != tt.lastBody {
				t.Errorf("part 3 = %q, want %q", p.bodies[2], tt.lastBody)
			}
		})
	}
}

func checkStatus(t *testing.T, body string, kind Action, extra map[string]string) {
	t.Helper()
	blocks := statusBlocks(t, body)
	if len(blocks) != 3 {
		t.Fatalf("%d status blocks, want 3:\n%s", len(blocks), body)
	}
	if !strings.HasPrefix(body, "Original-Envelope-Id: env+2B1\nReporting-MTA:") {
		t.Errorf("per-message fields out of order:\n%s", body)
	}
	checkFields(t, "per-message", blocks[0], map[string]string{
		"Reporting-MTA": "dns; mail.example.com", "X-Tern-Queue-ID": "4Xk2abc",
		"X-Tern-Sender": "rfc822; alice@example.com", "Arrival-Date": "Mon, 23 Nov 2026 11:50:00 +0000 (UTC)",
	})
	first := map[string]string{
		"Original-Recipient": "rfc822; Bob+x@remote.example", "Final-Recipient": "rfc822; bob@remote.example",
		"Action": string(kind), "Status": "5.1.1", "Remote-MTA": "dns; mx.remote.example",
		"Diagnostic-Code":   "smtp; 550 5.1.1 <bob@remote.example>: Recipient address rejected",
		"Last-Attempt-Date": "Mon, 23 Nov 2026 15:51:54 +0000 (UTC)",
	}
	for k, v := range extra {
		first[k] = v
	}
	checkFields(t, "recipient 1", blocks[1], first)
	generic := map[Action]string{Failed: "5.0.0", Delayed: "4.0.0", Delivered: "2.0.0"}[kind]
	checkFields(t, "recipient 2", blocks[2], map[string]string{
		"Original-Recipient": "", "Final-Recipient": "rfc822; nosuchuser@mail.example.com",
		"Action": string(kind), "Status": generic, "Remote-MTA": "",
		"Diagnostic-Code": `x-unix; unknown user: "nosuchuser"`, "Last-Attempt-Date": "",
	})
}

// TestWriteTrace: the report of sendmail -bv or -v has Postfix's subject
// and text, each recipient's own action, and the original headers only.
func TestWriteTrace(t *testing.T) {
	rep := baseReport(Trace)
	rep.Recipients[0].Action, rep.Recipients[1].Action = Deliverable, Undeliverable
	var out bytes.Buffer
	if err := Write(&out, rep, strings.NewReader(origMsg)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	p := parse(t, out.String())
	if got := p.hdr.Get("Subject"); got != "Mail Delivery Status Report" {
		t.Errorf("subject %q", got)
	}
	if !strings.Contains(p.bodies[0], "Enclosed is the mail delivery report that you requested.") {
		t.Errorf("text:\n%s", p.bodies[0])
	}
	blocks := statusBlocks(t, p.bodies[1])
	if len(blocks) != 3 || blocks[1].Get("Action") != "deliverable" || blocks[2].Get("Action") != "undeliverable" ||
		blocks[2].Get("Status") != "5.0.0" {
		t.Errorf("status blocks %v", blocks)
	}
	checkFields(t, "part 3", p.parts[2].Header, map[string]string{
		"Content-Description": "Message Headers", "Content-Type": "text/rfc822-headers"})
	// A recipient without an action of its own was delivered.
	rep.Recipients[1].Action = ""
	out.Reset()
	if err := Write(&out, rep, nil); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if blocks := statusBlocks(t, parse(t, out.String()).bodies[1]); blocks[2].Get("Action") != "delivered" {
		t.Errorf("default action %q", blocks[2].Get("Action"))
	}
}

func TestWriteSanitises(t *testing.T) {
	rep := baseReport(Failed)
	rep.Recipients = []RecipientReport{{
		FinalRecipient: "jörg@example.de",
		Diagnostic:     "550 line one\r\n550 line two\n\nInjected: yes " + strings.Repeat("word ", 60),
		Action:         Relayed, Status: "2.0.0",
	}}
	rep.Sender = "alice@example.com\nBcc: x@y"
	var out bytes.Buffer
	if err := Write(&out, rep, nil); err != nil {
		t.Fatalf("Write: %v", err)
	}
	p := parse(t, out.String())
	if len(p.parts) != 2 {
		t.Fatalf("%d parts, want 2 without original", len(p.parts))
	}
	if got := p.hdr.Get("Bcc"); got != "" {
		t.Errorf("header injection: Bcc %q", got)
	}
	blocks := statusBlocks(t, p.bodies[1])
	if len(blocks) != 2 {
		t.Fatalf("%d blocks, want 2:\n%s", len(blocks), p.bodies[1])
	}
	for _, line := range strings.Split(p.bodies[1], "\n") {
		if len(line) > 78 {
			t.Errorf("long line %q", line)
		}
		for _, c := range []byte(line) {
			if c >= 0x80 {
				t.Fatalf("non-ASCII in delivery-status line %q", line)
			}
		}
	}
	checkFields(t, "recipient", blocks[1], map[string]string{
		"Final-Recipient": `utf-8; j\x{F6}rg@example.de`, "Action": "relayed", "Status": "2.0.0",
		"Diagnostic-Code": "x-unix; 550 line one 550 line two Injected: yes " + strings.TrimSpace(strings.Repeat("word ", 60)),
	})
	if ct := p.parts[0].Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("text part type %q", ct)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Report)
	}{
		{"no recipients", func(r *Report) { r.Recipients = nil }},
		{"null sender", func(r *Report) { r.Sender = "" }},
		{"bad kind", func(r *Report) { r.Kind = "bogus" }},
	}
	for _, tt := range tests {
		rep := baseReport(Failed)
		tt.mod(&rep)
		if err := Write(io.Discard, rep, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	// A null-sender message's notice can go to the postmaster.
	rep := baseReport(Failed)
	rep.Sender, rep.To = "", "postmaster@example.com"
	var out bytes.Buffer
	if err := Write(&out, rep, strings.NewReader(origMsg)); err != nil {
		t.Fatalf("Write to postmaster: %v", err)
	}
	if p := parse(t, out.String()); p.hdr.Get("To") != "postmaster@example.com" {
		t.Errorf("To = %q", p.hdr.Get("To"))
	}
}

func TestStatusAndHelpers(t *testing.T) {
	for s, ok := range map[string]bool{"5.1.1": true, "4.4.7": true, "2.0.0": true, "5.123.999": true,
		"3.1.1": false, "5.1": false, "5.1.1.1": false, "5.1234.1": false, "5.1.x": false, "": false, "5..1": false} {
		if validStatus(s) != ok {
			t.Errorf("validStatus(%q) = %v", s, !ok)
		}
	}
	for in, want := range map[string][2]string{
		"rfc822;a+b@x": {"rfc822", "a+b@x"}, "utf-8; jörg@x": {"utf-8", "jörg@x"},
		"a;b@x": {"a", "b@x"}, "plain@x": {"rfc822", "plain@x"}, "a@b;c": {"rfc822", "a@b;c"},
	} {
		if typ, addr := originalRecipient(in); typ != want[0] || addr != want[1] {
			t.Errorf("originalRecipient(%q) = %q %q, want %q", in, typ, addr, want)
		}
	}
	for in, want := range map[string]string{"mx.example.com": "dns; mx.example.com", "dns; a": "dns; a"} {
		if got := remoteMTA(in); got != want {
			t.Errorf("remoteMTA(%q) = %q", in, got)
		}
	}
	long := strings.Repeat("x", 1200)
	squash := strings.NewReplacer("\n", "", " ", "")
	if f := fold("Diagnostic-Code: x-unix; " + long); squash.Replace(f) != "Diagnostic-Code:x-unix;"+long {
		t.Errorf("hard fold lost text")
	} else {
		for _, l := range strings.Split(f, "\n") {
			if len(l) > 998 {
				t.Errorf("line of %d characters", len(l))
			}
		}
	}
	for d, want := range map[time.Duration]string{5 * time.Minute: "5 minutes", time.Hour: "1 hour",
		30 * time.Hour: "30 hours", 72 * time.Hour: "3 days"} {
		if got := duration(d); got != want {
			t.Errorf("duration(%v) = %q, want %q", d, got, want)
		}
	}
}

const pyCheck = `
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
assert m.get_content_type() == "multipart/report", m.get_content_type()
assert m.get_param("report-type") == "delivery-status"
parts = m.get_payload()
assert len(parts) == 3, len(parts)
ds = parts[1]
assert ds.get_content_type() == "message/delivery-status"
blocks = ds.get_payload()
assert len(blocks) == 3, len(blocks)
assert blocks[0]["Reporting-MTA"] == "dns; mail.example.com", blocks[0]["Reporting-MTA"]
assert blocks[1]["Action"] == "failed" and blocks[1]["Status"] == "5.1.1"
assert blocks[2]["Final-Recipient"] == "rfc822; nosuchuser@mail.example.com"
assert parts[2].get_content_type() == "message/rfc822"
inner = parts[2].get_payload()[0]
assert inner["Subject"] == "hello", inner["Subject"]
print("ok")
`

func TestPythonParses(t *testing.T) {
	pythonChecks(t, baseReport(Failed), origMsg, pyCheck)
}

// pythonChecks writes the notification of rep about orig and has
// Python's email package read it with script, which prints "ok".
func pythonChecks(t *testing.T, rep Report, orig, script string) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	var out bytes.Buffer
	if err := Write(&out, rep, strings.NewReader(orig)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	path := filepath.Join(t.TempDir(), "bounce.eml")
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(res)) != "ok" {
		t.Fatalf("python email check: %v\n%s", err, res)
	}
}

func FuzzWrite(f *testing.F) {
	f.Add("bob@example.com", "rfc822;a+2Bb@c", "550 5.1.1 no", "smtp", "5.1.1", "mx", "HDRS", "Subject: x\n\nbody\n")
	f.Add("", "", "", "", "", "", "", "")
	f.Add("j\u00f6rg@x\n", "x;;", "a\r\n\r\nb \t ", "we ird", "9.9", "a;b", "FULL", "no header\r\nat all")
	f.Fuzz(func(t *testing.T, rcpt, orcpt, diag, dtype, status, mta, ret, orig string) {
		rep := baseReport(Failed)
		rep.Ret = ret
		rep.Recipients[0] = RecipientReport{FinalRecipient: rcpt, OriginalRecipient: orcpt,
			Diagnostic: diag, DiagnosticType: dtype, Status: status, RemoteMTA: mta}
		var out bytes.Buffer
		if err := Write(&out, rep, strings.NewReader(orig)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		p := parse(t, out.String())
		if len(p.parts) != 3 {
			t.Fatalf("%d parts", len(p.parts))
		}
		if global := p.parts[1].Header.Get("Content-Type") == "message/global-delivery-status"; global != rep.Global() {
			t.Fatalf("report part %q with Global() %v", p.parts[1].Header.Get("Content-Type"), rep.Global())
		}
		blocks := statusBlocks(t, p.bodies[1])
		if len(blocks) != 3 {
			t.Fatalf("%d status blocks:\n%s", len(blocks), p.bodies[1])
		}
		if !validStatus(blocks[1].Get("Status")) || blocks[1].Get("Action") != "failed" {
			t.Fatalf("bad recipient block %v", blocks[1])
		}
	})
}

// TestBounceSizeLimit: an original larger than bounce_size_limit comes
// back as its headers only, as in Postfix; one within it in full.
func TestBounceSizeLimit(t *testing.T) {
	orig := "Subject: big\n\n" + strings.Repeat("x", 200) + "\n"
	tests := []struct {
		size, limit int64
		full        bool
	}{
		{int64(len(orig)), 0, true},
		{int64(len(orig)), 1000, true},
		{int64(len(orig)), 100, false},
	}
	for _, tt := range tests {
		rep := baseReport(Failed)
		rep.OrigSize, rep.SizeLimit = tt.size, tt.limit
		var b strings.Builder
		if err := Write(&b, rep, strings.NewReader(orig)); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		gotFull := strings.Contains(out, "Content-Type: message/rfc822") && strings.Contains(out, strings.Repeat("x", 200))
		headersOnly := strings.Contains(out, "Content-Type: text/rfc822-headers") && !strings.Contains(out, strings.Repeat("x", 200))
		if gotFull != tt.full || headersOnly == tt.full {
			t.Errorf("size %d limit %d: full=%v headersOnly=%v, want full=%v", tt.size, tt.limit, gotFull, headersOnly, tt.full)
		}
	}
}
