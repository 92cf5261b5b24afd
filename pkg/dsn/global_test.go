package dsn

import (
	"bytes"
	"strings"
	"testing"
)

// TestWriteGlobal: reports on SMTPUTF8 mail used message/delivery-status
// and message/rfc822 and typed UTF-8 addresses as rfc822, which those
// types cannot carry. They now use RFC 6533's message/global types and
// the utf-8 address type (its addresses written in the ASCII form of
// utf-8-addr-xtext, which either report type may carry).
func TestWriteGlobal(t *testing.T) {
	const utf8Orig = "From: jörg@example.com\nSubject: Grüße\n\nbody\n"
	tests := []struct {
		name      string
		edit      func(*Report)
		global    bool
		origType  string
		finalRcpt string
		origRcpt  string
		sender    string
	}{
		{"ASCII, no SMTPUTF8", func(*Report) {}, false, "message/rfc822",
			"rfc822; bob@remote.example", "rfc822; Bob+x@remote.example", "rfc822; alice@example.com"},
		{"SMTPUTF8 asked, ASCII addresses", func(r *Report) { r.SMTPUTF8 = true }, true, "message/global",
			"rfc822; bob@remote.example", "rfc822; Bob+x@remote.example", "rfc822; alice@example.com"},
		{"UTF-8 recipient", func(r *Report) {
			r.Recipients[0].FinalRecipient = "müller@bücher.example"
			r.Recipients[0].OriginalRecipient = "rfc822;Müller@bücher.example"
		}, true, "message/global",
			`utf-8; m\x{FC}ller@b\x{FC}cher.example`, `utf-8; M\x{FC}ller@b\x{FC}cher.example`, "rfc822; alice@example.com"},
		{"UTF-8 sender, headers only", func(r *Report) { r.Sender, r.Ret = "jörg@example.com", "HDRS" }, true, "message/global-headers",
			"rfc822; bob@remote.example", "rfc822; Bob+x@remote.example", `utf-8; j\x{F6}rg@example.com`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := baseReport(Failed)
			tt.edit(&rep)
			if rep.Global() != tt.global {
				t.Fatalf("Global() = %v", rep.Global())
			}
			var out bytes.Buffer
			if err := Write(&out, rep, strings.NewReader(utf8Orig)); err != nil {
				t.Fatal(err)
			}
			p := parse(t, out.String())
			if len(p.parts) != 3 {
				t.Fatalf("%d parts", len(p.parts))
			}
			wantStatus := "message/delivery-status"
			if tt.global {
				wantStatus = "message/global-delivery-status"
			}
			if got := p.parts[1].Header.Get("Content-Type"); got != wantStatus {
				t.Errorf("report part %q, want %q", got, wantStatus)
			}
			if got := p.parts[2].Header.Get("Content-Type"); got != tt.origType {
				t.Errorf("original part %q, want %q", got, tt.origType)
			}
			blocks := statusBlocks(t, p.bodies[1])
			checkFields(t, "message", blocks[0], map[string]string{"X-Tern-Sender": tt.sender})
			checkFields(t, "recipient", blocks[1], map[string]string{"Final-Recipient": tt.finalRcpt, "Original-Recipient": tt.origRcpt})
		})
	}
}

// pyCheckGlobal is Python's email package reading a message/global
// report: the report part's fields and the returned message.
const pyCheckGlobal = `
import email, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
assert m.get_content_type() == "multipart/report", m.get_content_type()
parts = m.get_payload()
assert parts[1].get_content_type() == "message/global-delivery-status", parts[1].get_content_type()
text = str(parts[1])
assert "Final-Recipient: utf-8; m\\x{FC}ller@b\\x{FC}cher.example" in text, text
assert parts[2].get_content_type() == "message/global", parts[2].get_content_type()
inner = parts[2].get_payload()[0]
assert inner["Subject"] == "Grüße", inner["Subject"]
print("ok")
`

func TestPythonParsesGlobal(t *testing.T) {
	rep := baseReport(Failed)
	rep.SMTPUTF8 = true
	rep.Recipients[0].FinalRecipient = "müller@bücher.example"
	pythonChecks(t, rep, "From: jörg@example.com\nSubject: Grüße\n\nbody\n", pyCheckGlobal)
}

// TestWriteLabelsEightBitParts: the parts of a notification carried
// 8-bit text without a Content-Transfer-Encoding, so that they claimed
// 7bit (RFC 2045 section 6.1) and the smtp client's downgrade for a
// server without 8BITMIME passed them on unconverted. A part with 8-bit
// content now says 8bit; an ASCII one says nothing, as before.
func TestWriteLabelsEightBitParts(t *testing.T) {
	for _, eight := range []bool{false, true} {
		rep := baseReport(Failed)
		orig := origMsg
		if eight {
			rep.EightBit, rep.SMTPUTF8 = true, true
			rep.Recipients[0].FinalRecipient = "müller@bücher.example"
			orig = "Subject: Grüße\n\nbody\n"
		}
		var out bytes.Buffer
		if err := Write(&out, rep, strings.NewReader(orig)); err != nil {
			t.Fatal(err)
		}
		p := parse(t, out.String())
		for _, i := range []int{0, 2} {
			got := p.parts[i].Header.Get("Content-Transfer-Encoding")
			if want := map[bool]string{true: "8bit"}[eight]; got != want {
				t.Errorf("8-bit %v: part %d Content-Transfer-Encoding %q, want %q", eight, i, got, want)
			}
		}
		if got := p.parts[1].Header.Get("Content-Transfer-Encoding"); got != "" {
			t.Errorf("8-bit %v: the ASCII report part says %q", eight, got)
		}
	}
}

func TestReportUTF8Header(t *testing.T) {
	utf8From := &Template{From: "Zustellsystem <postmaster@x\u00e4mple.com>"}
	utf8Subject := &Template{Subject: "Unzustellbar: Grüße"}
	for _, tt := range []struct {
		name string
		edit func(*Report)
		want bool
	}{
		{"ASCII", func(*Report) {}, false},
		{"UTF-8 addressee", func(r *Report) { r.To = "jörg@example.com" }, true},
		{"UTF-8 sender as addressee", func(r *Report) { r.Sender = "jörg@example.com" }, true},
		{"template From with UTF-8", func(r *Report) { r.Template = utf8From }, true},
		{"template Subject with UTF-8 (encoded)", func(r *Report) { r.Template = utf8Subject }, false},
	} {
		rep := baseReport(Failed)
		tt.edit(&rep)
		if got := rep.UTF8Header(); got != tt.want {
			t.Errorf("%s: UTF8Header() = %v, want %v", tt.name, got, tt.want)
		}
		var out bytes.Buffer
		if err := Write(&out, rep, nil); err != nil {
			t.Fatal(err)
		}
		header, _, _ := strings.Cut(out.String(), "\n\n")
		if has := !isASCII(header); has != tt.want {
			t.Errorf("%s: the written header has UTF-8: %v, UTF8Header() %v", tt.name, has, tt.want)
		}
	}
}
