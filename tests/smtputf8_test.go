package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSMTPUTF8RequestRelayed: sendmail -SMTPUTF8 was refused, and the
// SMTPUTF8 request of a message was lost before the smtp client, which
// relayed a UTF-8 header without it. The receiving tern now sees MAIL
// with SMTPUTF8 (its Received header says UTF8SMTP, RFC 6531 section
// 3.7.3) and gets the header as it was written.
func TestSMTPUTF8RequestRelayed(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: Grüße aus Köln\n\nutf8 body\n", "-SMTPUTF8", rcpt+"@remote.tst")
	if code != 0 {
		t.Fatalf("sendmail -SMTPUTF8: %d %s", code, out)
	}
	p.receiver.waitMbox(rcpt, "utf8 body")
	mbox := p.receiver.mbox(rcpt)
	if !strings.Contains(mbox, "with UTF8SMTP id") {
		t.Errorf("the receiver's Received header does not say UTF8SMTP:\n%s", mbox)
	}
	if !strings.Contains(mbox, "Subject: Grüße aus Köln") {
		t.Errorf("the UTF-8 subject did not arrive as written:\n%s", mbox)
	}
}

// pyGlobalDSN reads a bounce from an mbox file with Python's email
// package and prints its report part's type, the recipient's Status and
// Diagnostic-Code, and the returned message's type and subject.
const pyGlobalDSN = `
import mailbox, sys
from email import policy
from email.parser import BytesParser
box = mailbox.mbox(sys.argv[1], factory=lambda f: BytesParser(policy=policy.default).parse(f))
for m in box:
    if m.get_content_type() != "multipart/report":
        continue
    parts = m.get_payload()
    report = str(parts[1])
    fields = dict(l.split(": ", 1) for l in report.splitlines() if ": " in l)
    inner = parts[2].get_payload()[0]
    print(parts[1].get_content_type(), "|", fields.get("Status"), "|", fields.get("Diagnostic-Code", "").split(";")[0],
          "|", parts[2].get_content_type(), "|", inner["Subject"])
`

// TestSMTPUTF8BounceIsGlobal: the bounce of an SMTPUTF8 message, whose
// recipient the remote MX refuses, uses RFC 6533's
// message/global-delivery-status and message/global, which Python's
// email package reads with the remote reply as the diagnostic.
func TestSMTPUTF8BounceIsGlobal(t *testing.T) {
	rcpt := localUser(t)
	p := newRelayPair(t)
	code, out := p.sender.sendmail("Subject: Grüße\n\nfor nobody\n", "-f", rcpt+"@example.tst", "nosuchuser@remote.tst")
	if code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, 20*time.Second, "the bounce", func() bool {
		return strings.Contains(p.sender.mbox(rcpt), "Undelivered Mail Returned to Sender")
	})
	path := filepath.Join(t.TempDir(), "mbox")
	if err := os.WriteFile(path, []byte(p.sender.mbox(rcpt)), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := exec.Command("python3", "-c", pyGlobalDSN, path).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, res)
	}
	want := "message/global-delivery-status | 5.1.1 | smtp | message/global | Grüße"
	if got := strings.TrimSpace(string(res)); got != want {
		t.Errorf("python read %q, want %q", got, want)
	}
}
