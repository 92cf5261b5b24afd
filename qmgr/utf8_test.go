package qmgr

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
)

// TestSMTPUTF8RequestAndAutodetect: the SMTPUTF8 request was not kept
// with the message, and smtputf8_autodetect_classes was only a name. A
// request from smtpd or sendmail now stays with the envelope, and mail
// from the sources that the setting names asks for SMTPUTF8 when its
// header or envelope has UTF-8; the agents see both flags.
func TestSMTPUTF8RequestAndAutodetect(t *testing.T) {
	tests := []struct {
		name, extra string
		viaSMTPD    bool // through cleanup as smtpd submits; else pickup
		notice      bool // with viaSMTPD: one of smtpd's postmaster notices
		request     bool // the client asked for SMTPUTF8
		sender      string
		subject     string
		wantUTF8    bool
		wantHeader  bool
	}{
		{"sendmail, UTF-8 header: autodetected", "", false, false, false, "", "Grüße", true, true},
		// The From header that cleanup adds names the sender.
		{"sendmail, UTF-8 sender: autodetected", "", false, false, false, "jörg@example.com", "plain", true, true},
		{"sendmail, ASCII", "", false, false, false, "", "plain", false, false},
		{"sendmail -SMTPUTF8, ASCII", "", false, false, true, "", "plain", true, false},
		{"sendmail not a class", "smtputf8_autodetect_classes = smtpd", false, false, false, "", "Grüße", false, true},
		{"smtpd, UTF-8 header, no request", "", true, false, false, "", "Grüße", false, true},
		{"smtpd with SMTPUTF8", "", true, false, true, "", "plain", true, false},
		{"smtpd a class", "smtputf8_autodetect_classes = smtpd", true, false, false, "", "Grüße", true, true},
		{"all", "smtputf8_autodetect_classes = all", true, false, false, "", "Grüße", true, true},
		{"notice, not a class", "", true, true, false, "", "Grüße", false, true},
		{"notice, notify a class", "smtputf8_autodetect_classes = notify", true, true, false, "", "Grüße", true, true},
		{"smtputf8_enable = no: no request", "smtputf8_enable = no", false, false, true, "", "Grüße", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newMTA(t, tt.extra, nil)
			body := "Subject: " + tt.subject + "\n\nbody\n"
			if tt.viaSMTPD {
				env := &envelope.Envelope{Sender: "alice@remote.org", ClientName: "client.remote.org",
					ClientAddr: "192.0.2.9", Helo: "client", Protocol: "ESMTP", SMTPUTF8: tt.request}
				req := env.Record().Add("request", "submit").Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: "bob@example.com"}))
				if tt.notice {
					req = req.Add("origin", "notice")
				}
				reply, c := h.call("cleanup", req, []byte(body))
				c.Close()
				if reply.Get("status") != "ok" {
					t.Fatalf("cleanup refused: %v", reply)
				}
			} else {
				req := rcpts("bob@example.com")
				if tt.sender != "" {
					req = append(ipc.Record{{Name: "sender", Value: tt.sender}}, req...)
				}
				if tt.request {
					req = req.Add("smtputf8", "1")
				}
				h.submit(req, body)
			}
			got := h.waitRequests(1)[0].env
			if got.SMTPUTF8 != tt.wantUTF8 || got.UTF8Header != tt.wantHeader {
				t.Errorf("agent saw SMTPUTF8 %v, UTF8Header %v; want %v, %v", got.SMTPUTF8, got.UTF8Header, tt.wantUTF8, tt.wantHeader)
			}
		})
	}
}

// TestBounceOfSMTPUTF8Mail: the bounce of a message that asked for
// SMTPUTF8 uses RFC 6533's types and asks for SMTPUTF8 itself, and a
// notification carrying an 8-bit original is marked 8-bit (it was not,
// so the smtp client neither announced nor downgraded it).
func TestBounceOfSMTPUTF8Mail(t *testing.T) {
	n := bounceFor(t, "", "Grüße")
	if !n.env.SMTPUTF8 || !n.env.EightBit {
		t.Errorf("notification SMTPUTF8 %v, 8-bit %v; want both", n.env.SMTPUTF8, n.env.EightBit)
	}
	rep := parseReport(t, n.body)
	if ds := rep.parts["message/global-delivery-status"]; !strings.Contains(ds, "Final-Recipient: rfc822; nobody@example.com") {
		t.Errorf("no message/global-delivery-status part naming the recipient: %v", rep.parts)
	}
	if orig := rep.parts["message/global"]; !strings.Contains(orig, "Subject: Grüße") {
		t.Errorf("no message/global part with the original: %v", rep.parts)
	}
}

// TestBounceClassAutodetect: smtputf8_autodetect_classes = bounce was
// warned about. A notification whose header has UTF-8 (here a
// template's From) now asks for SMTPUTF8 with that class, and not
// without it; the header flag is set either way.
func TestBounceClassAutodetect(t *testing.T) {
	tmpl := filepath.Join(t.TempDir(), "bounce.cf")
	if err := os.WriteFile(tmpl, []byte("failure_template = <<EOF\nCharset: utf-8\nFrom: Zustellsystem <postmaster@x\u00e4mple.com>\nSubject: Unzustellbar\n\nNicht zugestellt.\nEOF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, classes := range []string{"sendmail, verify", "bounce"} {
		t.Run(classes, func(t *testing.T) {
			env := bounceFor(t, "bounce_template_file = "+tmpl+"\nsmtputf8_autodetect_classes = "+classes+"\n", "plain").env
			if want := classes == "bounce"; env.SMTPUTF8 != want || !env.UTF8Header {
				t.Errorf("notification SMTPUTF8 %v, UTF8Header %v; want %v, true", env.SMTPUTF8, env.UTF8Header, want)
			}
		})
	}
}

// TestFilteredBounceUTF8Header: a notification that goes through the
// header checks (internal_mail_filter_classes = bounce) gets its header
// flag from the header they leave, here with a UTF-8 field a PREPEND
// added, and so asks for SMTPUTF8 with the bounce class.
func TestFilteredBounceUTF8Header(t *testing.T) {
	table := filepath.Join(t.TempDir(), "checks")
	if err := os.WriteFile(table, []byte("/^Subject: .*Returned to Sender/ PREPEND X-Note: gepr\u00fcft\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	n := bounceFor(t, "header_checks = regexp:"+table+"\ninternal_mail_filter_classes = bounce\nsmtputf8_autodetect_classes = bounce\n", "lost")
	if !n.env.UTF8Header || !n.env.SMTPUTF8 {
		t.Errorf("notification UTF8Header %v, SMTPUTF8 %v; want both:\n%s", n.env.UTF8Header, n.env.SMTPUTF8, n.body)
	}
}

// bounceFor runs a manager with the extra main.cf lines, has it bounce a
// sendmail message with the given subject from alice@example.com, and
// returns the one notification delivered.
func bounceFor(t *testing.T, extra, subject string) agentReq {
	t.Helper()
	h := newMTA(t, extra, &fakeAgent{answer: bounceAnswer})
	h.submit(rcpts("nobody@example.com").Add("sender", "alice@example.com"), "Subject: "+subject+"\n\nbody\n")
	reqs := h.waitRequests(2)
	h.waitEmpty()
	nd := notifications(reqs, "")
	if len(nd) != 1 {
		t.Fatalf("%d notifications from <>", len(nd))
	}
	return nd[0]
}
