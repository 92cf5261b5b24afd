package tests

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startStageMilter runs testdata/stagemilter.py, a milter on Sendmail's
// libmilter (Debian's python3-milter), on a unix socket; it is stopped by
// t.Cleanup.
func startStageMilter(t *testing.T) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import Milter").Run(); err != nil {
		needPackage(t, "python3-milter", "Python's Milter module is not installed")
	}
	socket := filepath.Join(dovecotDir(t, "tern-milter-"), "stage.sock")
	script, err := filepath.Abs("testdata/stagemilter.py")
	if err != nil {
		t.Fatal(err)
	}
	startSocketDaemon(t, "stagemilter", socket, exec.Command("/usr/bin/python3", script, socket))
	return "unix:" + socket
}

// TestMilterStagesLive: tern talked to smtpd_milters only at the end of
// DATA, replaying the envelope, so a milter's refusal of a sender or a
// recipient (greylisting, say) came after the client had sent the whole
// message and refused every recipient at once. smtpd now holds the
// conversation stage by stage, as Postfix does: with a libmilter milter,
// a refused sender gets its reply at MAIL, a refused recipient at RCPT
// while the others are delivered, a greylisted one 451 at RCPT and then
// delivery on the retry, and the milter sees connect, HELO, MAIL and RCPT
// before the message.
func TestMilterStagesLive(t *testing.T) {
	rcpt := localUser(t)
	sock := startStageMilter(t)
	// Any local name is accepted by smtpd and delivered to rcpt, so that
	// the names the milter refuses reach it.
	in, _ := smtpdInstance(t, "smtpd_milters = "+sock, "milter_default_action = tempfail",
		"local_recipient_maps =", "luser_relay = "+rcpt)
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "blocked@remote.tst", "--to", rcpt+"@example.tst")
	if err == nil || !strings.Contains(out, "-> MAIL FROM:<blocked@remote.tst>\n<** 550 5.7.1 sender blocked by the stage milter") {
		t.Errorf("sender refusal not at MAIL: %v\n%s", err, out)
	}
	out, err = swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", rcpt+"@example.tst,nosuch@example.tst",
		"--header", "Subject: two recipients", "--body", "for the good one")
	if err != nil || !strings.Contains(out, "-> RCPT TO:<nosuch@example.tst>\n<** 550 5.1.1 no such user at the stage milter") {
		t.Errorf("recipient refusal not at RCPT: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "for the good one")
	if m := in.mbox(rcpt); !strings.Contains(m, "X-Milter-Stages: connect helo mail rcpt\n") {
		t.Errorf("the milter did not see the stages as they came:\n%s", m)
	}
	greylisted := "greylist@example.tst"
	out, err = swaks(t, "--server", addr, "--from", "b@remote.tst", "--to", greylisted, "--body", "greylisted then delivered")
	if err == nil || !strings.Contains(out, "-> RCPT TO:<"+greylisted+">\n<** 451 4.7.1 greylisted, try again later") ||
		strings.Contains(out, "-> DATA") {
		t.Errorf("greylisting not at RCPT: %v\n%s", err, out)
	}
	out, err = swaks(t, "--server", addr, "--from", "b@remote.tst", "--to", greylisted, "--body", "greylisted then delivered")
	if err != nil {
		t.Fatalf("the retry: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "greylisted then delivered")
	in.waitLog("NOQUEUE: milter-reject: RCPT from localhost[127.0.0.1]: 451 4.7.1 greylisted, try again later; from=<b@remote.tst> to=<"+greylisted+">", 10*time.Second)
}

// TestSmtpdMilterMapsDisable: with smtpd_milter_maps giving DISABLE for
// the client's network, the libmilter milter that refuses the sender is
// not asked; another client address would still be filtered.
func TestSmtpdMilterMapsDisable(t *testing.T) {
	rcpt := localUser(t)
	sock := startStageMilter(t)
	table := filepath.Join(readableTempDir(t), "milter_map")
	writeFile(t, table, "127.0.0.0/8 DISABLE\n")
	in, _ := smtpdInstance(t, "smtpd_milters = "+sock, "smtpd_milter_maps = cidr:"+table)
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "blocked@remote.tst", "--to", rcpt+"@example.tst",
		"--body", "past the disabled milter")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "past the disabled milter")
	if m := in.mbox(rcpt); strings.Contains(m, "X-Milter-Stages") {
		t.Errorf("the milter was asked:\n%s", m)
	}
}

// TestMilterXclient: after XCLIENT the milters were still told about the
// proxy that sent it; their sessions now start again with the client
// XCLIENT names, as for the restrictions.
func TestMilterXclient(t *testing.T) {
	rcpt := localUser(t)
	sock := startStageMilter(t)
	in, _ := smtpdInstance(t, "smtpd_milters = "+sock, "smtpd_authorized_xclient_hosts = 127.0.0.0/8")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--xclient-addr", "192.0.2.9", "--xclient-name", "spike.example", "--body", "through xclient")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "through xclient")
	if m := in.mbox(rcpt); !strings.Contains(m, "X-Milter-Client: 192.0.2.9\n") {
		t.Errorf("the milter was not told the XCLIENT address:\n%s", m)
	}
}

// TestMilterHeaderChecks: milter_header_checks was unknown. The header
// the libmilter milter adds (X-Milter-Stages) meets a HOLD rule: the
// message waits in the hold queue instead of being delivered, and smtpd
// logs why; the client's own header with the same text would not count.
func TestMilterHeaderChecks(t *testing.T) {
	rcpt := localUser(t)
	sock := startStageMilter(t)
	checks := filepath.Join(readableTempDir(t), "milter_header_checks")
	writeFile(t, checks, "/^X-Milter-Stages: connect/ HOLD milter verdict\n")
	in, _ := smtpdInstance(t, "smtpd_milters = "+sock, "milter_header_checks = regexp:"+checks)
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--header", "Subject: held by a milter header", "--body", "held body")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitLog("NOQUEUE: hold: END-OF-MESSAGE from localhost[127.0.0.1]: header X-Milter-Stages: connect helo mail rcpt: milter verdict;", 10*time.Second)
	in.waitLog("(queue hold)", 10*time.Second)
	if strings.Contains(in.mbox(rcpt), "held body") {
		t.Errorf("the held message was delivered")
	}
}
