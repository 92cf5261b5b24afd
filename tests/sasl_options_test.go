package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSMTPDSASLSecurityOptions: smtpd_sasl_tls_security_options =
// noplaintext was accepted with "no effect" and PLAIN was still offered.
// Now swaks finds no mechanism it may use: smtpd offers only what the
// options allow, and with the password map that is nothing.
func TestSMTPDSASLSecurityOptions(t *testing.T) {
	rcpt := localUser(t)
	in, ca := smtpdInstance(t, "smtpd_sasl_tls_security_options = noanonymous, noplaintext")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.2:0"), "--tls", "--tls-ca-path", ca.caFile,
		"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wonderland",
		"--from", "alice@example.tst", "--to", rcpt+"@example.tst")
	if err == nil {
		t.Fatalf("swaks authenticated although plaintext mechanisms are refused:\n%s", out)
	}
	if !strings.Contains(out, "220 2.0.0") || strings.Contains(out, "AUTH PLAIN") || strings.Contains(out, "235 ") {
		t.Errorf("TLS not started, or PLAIN offered or accepted:\n%s", out)
	}
}

// TestSMTPClientSASLSecurityOptions: the usual relay setup of Postfix
// guides, smtp_sasl_security_options = noanonymous, lets the client log
// in with PLAIN without TLS; it was reported as having no effect, and
// tern's client refused. With the default (noplaintext) it still
// refuses, and the mail waits in the queue.
func TestSMTPClientSASLSecurityOptions(t *testing.T) {
	rcpt := localUser(t)
	receiver := plainAuthReceiver(t, map[string]string{"alice": "wonderland"})
	relay := "[127.0.0.1]:" + portOf(t, receiver.smtpAddr("127.0.0.1:0"))
	senderWith := func(extra ...string) *instance {
		s := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
			append([]string{"relayhost = " + relay, "smtp_sasl_auth_enable = yes",
				"smtp_sasl_password_maps = inline:{ " + relay + "=alice:wonderland }"}, extra...)...)})
		s.start()
		return s
	}

	refusing := senderWith()
	if code, out := refusing.sendmail("Subject: no plaintext\n\nrefused body\n", "-f", "a@sender.tst", rcpt+"@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	refusing.waitLog("status=deferred (SASL authentication failed: cannot authenticate to server", deliveryTimeout)
	refusing.stop()

	allowing := senderWith("smtp_sasl_security_options = noanonymous")
	if code, out := allowing.sendmail("Subject: plaintext allowed\n\nallowed body marker\n", "-f", "a@sender.tst", rcpt+"@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	receiver.waitMbox(rcpt, "allowed body marker")
	receiver.waitLogMatch(regexp.MustCompile(`client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=alice`), deliveryTimeout)
	if strings.Contains(receiver.mbox(rcpt), "refused body") {
		t.Error("the message of the refusing sender arrived")
	}
}

// plainAuthReceiver starts a suite whose smtpd on 127.0.0.1 takes AUTH
// PLAIN and LOGIN without TLS, for the users and passwords given.
func plainAuthReceiver(t *testing.T, users map[string]string) *instance {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for u, pw := range users {
		lines.WriteString(u + " " + cryptSHA512(t, pw) + "\n")
	}
	file := filepath.Join(dir, "sasl-users")
	if err := os.WriteFile(file, []byte(lines.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, options{
		master: testMasterCF + `127.0.0.1:0 inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
`,
		main: []string{"smtpd_sasl_type = tern", "tern_sasl_password_maps = texthash:" + file, "smtpd_error_sleep_time = 0"},
	})
	in.start()
	return in
}
