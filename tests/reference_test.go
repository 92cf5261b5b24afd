package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// referenceDir is where the shared reference setups live, beside the
// repository.
const referenceDir = "../../shared/reference"

// plainSMTPMasterCF adds one smtpd without TLS on 127.0.0.1, port 0.
const plainSMTPMasterCF = testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n"

// referenceMainCF returns the main.cf lines of a reference setup with
// /etc/tern/ pointing at conf, and copies the setup's other files there
// (with /etc/tern/ replaced too).
// The lines are kept as written otherwise; the caller appends the
// instance's own overrides (spool, interfaces) after them.
func referenceMainCF(t *testing.T, setup, conf string) []string {
	t.Helper()
	dir := filepath.Join(referenceDir, setup)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("reference setup not beside the repository: %v", err)
	}
	var lines []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "/etc/tern/", conf+"/")
		if e.Name() == "main.cf" {
			lines = strings.Split(strings.TrimRight(text, "\n"), "\n")
			continue
		}
		if err := os.WriteFile(filepath.Join(conf, e.Name()), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return lines
}

// TestReferenceLocalDomainSetup runs the local-domain reference main.cf
// (aliases and a hash: transport map keeping the domain local) with mail
// arriving over SMTP: aliases copy and redirect, an unknown user is
// refused at RCPT, and the transport map routes to local.
func TestReferenceLocalDomainSetup(t *testing.T) {
	if !isRoot() {
		t.Skip("needs the system users usera, userb, userc (root)")
	}
	for _, u := range []string{"usera", "userb", "userc"} {
		homeOf(t, u)
	}
	in := newInstance(t, options{master: plainSMTPMasterCF})
	// The reference's paths now point at the instance's folder; the spool
	// and the interfaces are the instance's.
	in.appendMain(referenceMainCF(t, "local-domain", in.conf)...)
	in.appendMain("mail_spool_directory = "+in.spool, "inet_interfaces = 127.0.0.1")
	in.run("tern", "map", "hash:"+filepath.Join(in.conf, "transport"))
	in.run("newaliases")
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	for _, rcpt := range []string{"userA@example.tst", "userC@example.tst"} {
		if out, err := swaks(t, "--server", addr, "--from", "sender@remote.example", "--to", rcpt,
			"--header", "Subject: ref "+rcpt, "--body", "body-for-"+rcpt); err != nil {
			t.Fatalf("swaks to %s: %v\n%s", rcpt, err, out)
		}
	}
	out, err := swaks(t, "--server", addr, "--from", "sender@remote.example", "--to", "nosuchuser@example.tst")
	if err == nil || !strings.Contains(out, "550 5.1.1 <nosuchuser@example.tst>: Recipient address rejected: User unknown in local recipient table") {
		t.Errorf("unknown user was not refused at RCPT:\n%s", out)
	}
	waitFor(t, deliveryTimeout, "deliveries", func() bool {
		b := in.mbox("userb")
		return strings.Contains(b, "body-for-userA@example.tst") && strings.Contains(b, "body-for-userC@example.tst") &&
			strings.Contains(in.mbox("usera"), "body-for-userA@example.tst")
	})
	in.waitQueueEmpty()
	if in.mbox("userc") != "" {
		t.Errorf("userC got mail its alias sends to userB only")
	}
	if !strings.Contains(in.log(), "relay=local") {
		t.Errorf("no local delivery logged:\n%s", in.log())
	}
}

// TestRelocatedAndVirtualAliasDomainOverSMTP checks relocated_maps and an
// unknown address in a virtual alias domain at RCPT time, and the same
// addresses submitted with sendmail, which cannot be refused up front and
// bounce instead.
func TestRelocatedAndVirtualAliasDomainOverSMTP(t *testing.T) {
	sender := localUser(t)
	in, _ := smtpdInstance(t,
		"relocated_maps = inline:{ {old@example.tst=new@elsewhere.example} }",
		"virtual_alias_domains = alias.example",
		"virtual_alias_maps = inline:{ {known@alias.example="+sender+"@example.tst} }",
	)
	addr := in.smtpAddr("127.0.0.1:0")
	tests := []struct{ rcpt, want string }{
		{"old@example.tst", "550 5.1.6 <old@example.tst>: Recipient address rejected: User has moved to new@elsewhere.example"},
		{"nobody@alias.example", "550 5.1.1 <nobody@alias.example>: Recipient address rejected: User unknown in virtual alias table"},
	}
	for _, tt := range tests {
		out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", tt.rcpt)
		if err == nil || !strings.Contains(out, tt.want) {
			t.Errorf("RCPT TO:<%s>: want %q in\n%s", tt.rcpt, tt.want, out)
		}
	}
	if code, o := in.sendmail("Subject: to relocated\n\nbody\n", "-f", sender+"@example.tst", "old@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, o)
	}
	in.waitLog("status=bounced (User has moved to new@elsewhere.example)", deliveryTimeout)
	waitFor(t, deliveryTimeout, "the bounce", func() bool {
		return strings.Contains(in.mbox(sender), "User has moved to new@elsewhere.example")
	})
}

// TestTransportErrorAndDiscard routes with transport_maps to error: (a
// bounce with the map's status and text) and discard: (accepted, logged,
// never delivered).
func TestTransportErrorAndDiscard(t *testing.T) {
	sender := localUser(t)
	in := newInstance(t, options{main: []string{
		"transport_maps = inline:{ {gone.example=error:5.1.2 domain is gone}, {devnull.example=discard:silenced} }",
	}})
	in.start()
	if code, out := in.sendmail("Subject: routed\n\nrouted body\n", "-f", sender+"@example.tst",
		"a@gone.example", "b@devnull.example"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitLog("to=<b@devnull.example>, relay=none", deliveryTimeout)
	in.waitLog("status=sent (discarded: silenced)", deliveryTimeout)
	waitFor(t, deliveryTimeout, "the bounce", func() bool {
		b := in.mbox(sender)
		return strings.Contains(b, "Status: 5.1.2") && strings.Contains(b, "domain is gone")
	})
	if strings.Contains(in.mbox(sender), "b@devnull.example") && strings.Count(in.mbox(sender), "Final-Recipient") > 1 {
		t.Errorf("the discarded recipient was reported in the bounce:\n%s", in.mbox(sender))
	}
}
