package tests

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// startSMTPDSuite starts the three SMTP services of smtpdMasterCF with the
// main.cf lines smtpdInstance uses, but with an aliases file of its own
// and, when saslMain is not nil, these SASL lines instead of the "tern"
// back end with alice's password.
func startSMTPDSuite(t *testing.T, aliases string, saslMain []string, extraMain ...string) (*instance, testCA) {
	t.Helper()
	tlsDir := t.TempDir()
	if err := os.Chmod(tlsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, tlsDir)
	if saslMain == nil {
		users := filepath.Join(tlsDir, "sasl-users")
		if err := os.WriteFile(users, []byte("alice "+cryptSHA512(t, "wonderland")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		saslMain = []string{"smtpd_sasl_type = tern", "tern_sasl_password_maps = texthash:" + users}
	}
	main := []string{
		"smtpd_tls_cert_file = " + ca.certFile,
		"smtpd_tls_key_file = " + ca.keyFile,
		"smtpd_tls_security_level = may",
	}
	main = append(main, saslMain...)
	main = append(main, "mynetworks = 192.0.2.0/24", "smtpd_error_sleep_time = 0")
	main = append(main, extraMain...)
	in := newInstance(t, options{master: smtpdMasterCF, main: main, aliases: aliases})
	in.start()
	return in, ca
}

// pyDSNSend sends one message with DSN parameters and prints what the
// server said as JSON. Arguments: address, sender, recipient, MAIL
// parameters, RCPT parameters (space separated), subject, body.
const pyDSNSend = `
import json, smtplib, sys
host, port = sys.argv[1].rsplit(":", 1)
sender, rcpt = sys.argv[2], sys.argv[3]
mail_opts, rcpt_opts = sys.argv[4].split(), sys.argv[5].split()
subject, body = sys.argv[6], sys.argv[7]
s = smtplib.SMTP(host, int(port), timeout=20)
s.ehlo("dsn-client.example")
out = {"dsn": s.has_extn("dsn")}
r = s.mail(sender, mail_opts)
out["mail"] = "%d %s" % (r[0], r[1].decode())
r = s.rcpt(rcpt, rcpt_opts)
out["rcpt"] = "%d %s" % (r[0], r[1].decode())
d = s.data("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n%s\r\n" % (sender, rcpt, subject, body))
out["data"] = "%d %s" % (d[0], d[1].decode())
s.quit()
print(json.dumps(out))
`

// pyParseDSN parses the last message of an mbox as a delivery status
// notification and prints its parts as JSON.
const pyParseDSN = `
import json, mailbox, sys
msgs = list(mailbox.mbox(sys.argv[1]))
m = msgs[-1]
out = {"count": len(msgs), "type": m.get_content_type(), "report_type": m.get_param("report-type"), "parts": []}
for p in m.get_payload() if m.is_multipart() else []:
    part = {"type": p.get_content_type()}
    if part["type"] == "message/delivery-status":
        part["blocks"] = [dict((k, " ".join(v.split())) for k, v in b.items()) for b in p.get_payload()]
    elif not p.is_multipart() and not isinstance(p.get_payload(), list):
        part["text"] = p.get_payload()
    else:
        part["text"] = p.as_string()
    out["parts"].append(part)
print(json.dumps(out))
`

type dsnSendResult struct {
	DSN              bool
	Mail, Rcpt, Data string
}

type dsnPart struct {
	Type   string
	Blocks []map[string]string
	Text   string
}

type dsnParsed struct {
	Count      int
	Type       string
	ReportType string `json:"report_type"`
	Parts      []dsnPart
}

var queuedAsRE = regexp.MustCompile(`queued as ([0-9A-Za-z]+)`)

// sendWithDSN sends one message over SMTP with the given parameters and
// returns its queue id.
func sendWithDSN(t *testing.T, addr, sender, rcpt, mailOpts, rcptOpts, subject, body string) string {
	t.Helper()
	out, err := pythonSMTP(t, pyDSNSend, addr, sender, rcpt, mailOpts, rcptOpts, subject, body)
	if err != nil {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
	var res dsnSendResult
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	if !res.DSN {
		t.Errorf("EHLO reply does not advertise DSN")
	}
	if !strings.HasPrefix(res.Mail, "250") || !strings.HasPrefix(res.Rcpt, "250") || !strings.HasPrefix(res.Data, "250") {
		t.Fatalf("transaction refused: MAIL %q, RCPT %q, DATA %q", res.Mail, res.Rcpt, res.Data)
	}
	m := queuedAsRE.FindStringSubmatch(res.Data)
	if m == nil {
		t.Fatalf("no queue id in the DATA reply %q", res.Data)
	}
	return m[1]
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestDSNParametersReachBounce: RET, ENVID, NOTIFY and ORCPT given over
// SMTP (RFC 3461) shape the non-delivery report of a recipient that fails
// at delivery, and NOTIFY=NEVER suppresses it.
func TestDSNParametersReachBounce(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	sender := localUser(t)
	// 67 is EX_NOUSER of sysexits.h: a permanent failure (5.1.1) in
	// Postfix's local(8) and in tern's.
	in, _ := startSMTPDSuite(t, "failer: \"|/bin/sh -c 'exit 67'\"\n", nil)
	addr := in.smtpAddr("127.0.0.1:0")
	from := sender + "@example.tst"

	id1 := sendWithDSN(t, addr, from, "failer@example.tst", "RET=HDRS ENVID=env-123",
		"NOTIFY=FAILURE ORCPT=rfc822;failer@example.tst", "dsn first", "first-body-marker")
	in.waitLog(id1+": to=<failer@example.tst>", deliveryTimeout)
	waitFor(t, deliveryTimeout, "the bounce in the mailbox of "+sender, func() bool {
		return strings.Contains(in.mbox(sender), "multipart/report")
	})
	if !regexp.MustCompile(regexp.QuoteMeta(id1) + `: to=<failer@example.tst>.* dsn=5\.\d+\.\d+, status=bounced`).MatchString(in.log()) {
		t.Errorf("no bounced delivery line for %s:\n%s", id1, in.log())
	}

	mboxPath := filepath.Join(in.spool, sender)
	out, err := exec.Command(python, "-c", pyParseDSN, mboxPath).CombinedOutput()
	if err != nil {
		t.Fatalf("python could not parse the mailbox: %v\n%s\n%s", err, out, in.mbox(sender))
	}
	var got dsnParsed
	if err := json.Unmarshal([]byte(lastLine(string(out))), &got); err != nil {
		t.Fatalf("parser output %q: %v", out, err)
	}
	checkDSNReport(t, got)

	// NOTIFY=NEVER: the same failure, no report.
	id2 := sendWithDSN(t, addr, from, "failer@example.tst", "ENVID=env-456",
		"NOTIFY=NEVER", "dsn second", "second-body-marker")
	in.waitLog(id2+": removed", deliveryTimeout)
	if !regexp.MustCompile(regexp.QuoteMeta(id2) + `: to=<failer@example.tst>.* status=bounced`).MatchString(in.log()) {
		t.Errorf("no bounced delivery line for %s:\n%s", id2, in.log())
	}
	// A report, if any, was queued before the message was removed: once
	// the queue is empty it is in the mailbox or nowhere.
	waitFor(t, deliveryTimeout, "an empty queue", func() bool {
		return strings.Contains(in.run("mailq"), "Mail queue is empty")
	})
	if msgs := mboxMessages(in.mbox(sender)); len(msgs) != 1 {
		t.Errorf("mailbox of %s holds %d messages, want the first bounce only:\n%s", sender, len(msgs), in.mbox(sender))
	}
	if strings.Contains(in.log(), id2+": sender non-delivery notification") {
		t.Errorf("a notification was sent for %s despite NOTIFY=NEVER", id2)
	}
}

// checkDSNReport checks the parsed bounce of the first message.
func checkDSNReport(t *testing.T, got dsnParsed) {
	t.Helper()
	if got.Count != 1 {
		t.Errorf("mailbox holds %d messages, want 1 (the bounce)", got.Count)
	}
	if got.Type != "multipart/report" || got.ReportType != "delivery-status" {
		t.Fatalf("bounce is %s; report-type=%s, want multipart/report; report-type=delivery-status", got.Type, got.ReportType)
	}
	var status, returned *dsnPart
	for i := range got.Parts {
		switch got.Parts[i].Type {
		case "message/delivery-status":
			status = &got.Parts[i]
		case "text/rfc822-headers", "message/rfc822":
			returned = &got.Parts[i]
		}
	}
	if status == nil || len(status.Blocks) < 2 {
		t.Fatalf("no message/delivery-status part with a recipient block: %+v", got.Parts)
	}
	if v := status.Blocks[0]["Original-Envelope-Id"]; v != "env-123" {
		t.Errorf("Original-Envelope-Id = %q, want env-123 (per-message block %v)", v, status.Blocks[0])
	}
	rcpt := status.Blocks[1]
	if v := strings.ReplaceAll(rcpt["Original-Recipient"], " ", ""); !strings.EqualFold(v, "rfc822;failer@example.tst") {
		t.Errorf("Original-Recipient = %q, want rfc822;failer@example.tst (block %v)", rcpt["Original-Recipient"], rcpt)
	}
	if v := rcpt["Action"]; v != "failed" {
		t.Errorf("Action = %q, want failed", v)
	}
	if v := rcpt["Status"]; !regexp.MustCompile(`^5\.\d{1,3}\.\d{1,3}$`).MatchString(v) {
		t.Errorf("Status = %q, want 5.x.x", v)
	}
	if returned == nil {
		t.Fatalf("no returned message part: %+v", got.Parts)
	}
	if returned.Type != "text/rfc822-headers" {
		t.Errorf("returned part is %s, want text/rfc822-headers for RET=HDRS", returned.Type)
	}
	if !strings.Contains(returned.Text, "Subject: dsn first") {
		t.Errorf("returned headers lack the original Subject:\n%s", returned.Text)
	}
	if strings.Contains(returned.Text, "first-body-marker") {
		t.Errorf("RET=HDRS but the body was returned:\n%s", returned.Text)
	}
}
