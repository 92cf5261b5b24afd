package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// traceReport parses the last message of user's mailbox with Python's
// email package, as a mail reader would.
func traceReport(t *testing.T, in *instance, user string) dsnParsed {
	t.Helper()
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	out, err := exec.Command(python, "-c", pyParseDSN, filepath.Join(in.spool, user)).CombinedOutput()
	if err != nil {
		t.Fatalf("python could not parse the mailbox: %v\n%s\n%s", err, out, in.mbox(user))
	}
	var got dsnParsed
	if err := json.Unmarshal([]byte(lastLine(string(out))), &got); err != nil {
		t.Fatalf("parser output %q: %v", out, err)
	}
	if got.Type != "multipart/report" || got.ReportType != "delivery-status" || len(got.Parts) != 3 {
		t.Fatalf("report is %s; report-type=%s, %d parts:\n%s", got.Type, got.ReportType, len(got.Parts), in.mbox(user))
	}
	return got
}

// actions maps each Final-Recipient of a report (with its
// Diagnostic-Code) to its Action.
func actions(p dsnPart) map[string]string {
	out := map[string]string{}
	for _, b := range p.Blocks {
		if fr := b["Final-Recipient"]; fr != "" {
			out[strings.TrimPrefix(fr, "rfc822; ")+" "+b["Diagnostic-Code"]] = b["Action"]
		}
	}
	return out
}

// TestSendmailVerifyReport: sendmail -bv delivers nothing and mails the
// sender a "Mail Delivery Status Report" with what delivery would do to
// each destination an alias expands to, as Postfix's; sendmail -v
// delivers and reports the first attempt.
func TestSendmailVerifyReport(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{})
	out := filepath.Join(in.dir, "out")
	mustMkdir(t, out, 0o777)
	os.Chmod(out, 0o777)
	cmdOut, fileOut := filepath.Join(out, "command.out"), filepath.Join(out, "file.out")
	in.write("etc/aliases", fmt.Sprintf("team: %[1]s, \"|cat > %[2]s\", %[3]s, someone@remote.tst\n", rcpt, cmdOut, fileOut))
	in.run("newaliases")
	in.start()
	from := rcpt + "@example.tst"

	code, said := in.sendmail("this input is not read\n", "-bv", "-f", from, "team", "nobodyhere", rcpt)
	if code != 0 || !strings.Contains(said, "Mail Delivery Status Report will be mailed to <"+from+">.") {
		t.Fatalf("sendmail -bv: %d %q", code, said)
	}
	waitFor(t, deliveryTimeout, "the report in the mailbox of "+rcpt, func() bool {
		return strings.Contains(in.mbox(rcpt), "Subject: Mail Delivery Status Report")
	})
	for _, f := range []string{cmdOut, fileOut} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("sendmail -bv delivered to %s", f)
		}
	}
	rep := traceReport(t, in, rcpt)
	if !strings.Contains(rep.Parts[0].Text, "Enclosed is the mail delivery report that you requested.") {
		t.Errorf("report text:\n%s", rep.Parts[0].Text)
	}
	got := actions(rep.Parts[1])
	want := map[string]string{
		rcpt + "@example.tst x-unix; delivery via local: delivers to mailbox":               "deliverable",
		"team@example.tst x-unix; delivery via local: delivers to command: cat > " + cmdOut: "deliverable",
		"team@example.tst x-unix; delivery via local: delivers to file: " + fileOut:         "deliverable",
		"someone@remote.tst x-unix; delivery via local: forwards to someone@remote.tst":     "deliverable",
		`nobodyhere@example.tst x-unix; delivery via local: unknown user: "nobodyhere"`:     "undeliverable",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("report lacks %q: %s; got %q", k, v, got)
		}
	}
	// rcpt is reported twice: directly and through team.
	if n := len(rep.Parts[1].Blocks) - 1; n != len(want)+1 {
		t.Errorf("report has %d recipients, want %d: %q", n, len(want)+1, got)
	}
	if !strings.Contains(in.log(), "status=deliverable") || !strings.Contains(in.log(), "status=undeliverable") {
		t.Errorf("no verification delivery lines:\n%s", in.log())
	}
	waitFor(t, deliveryTimeout, "an empty queue", func() bool {
		return strings.Contains(in.run("mailq"), "Mail queue is empty")
	})

	// sendmail -v: the mail is delivered, and the report says so.
	code, said = in.sendmail("Subject: verbose\n\nverbose body\n", "-v", "-f", from, "team")
	if code != 0 || !strings.Contains(said, "Mail Delivery Status Report will be mailed to <"+from+">.") {
		t.Fatalf("sendmail -v: %d %q", code, said)
	}
	waitFor(t, deliveryTimeout, "command delivery", func() bool { return fileContains(cmdOut, "verbose body") })
	waitFor(t, deliveryTimeout, "the second report", func() bool {
		return strings.Count(in.mbox(rcpt), "Subject: Mail Delivery Status Report") == 2
	})
	rep = traceReport(t, in, rcpt)
	got = actions(rep.Parts[1])
	for k, v := range got {
		if v != "delivered" && !strings.HasPrefix(k, "someone@remote.tst") {
			t.Errorf("-v report: %s is %s", k, v)
		}
	}
	if n := len(rep.Parts[1].Blocks) - 1; n != 4 || len(got) != 4 {
		t.Errorf("-v report has %d recipients, want 4: %q", n, got)
	}
}
