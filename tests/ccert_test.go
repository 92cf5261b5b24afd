package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// opensslFingerprint is the SHA-256 fingerprint of a certificate file as
// openssl prints it, the form relay_clientcerts tables hold.
func opensslFingerprint(t *testing.T, certFile string) string {
	t.Helper()
	out, err := exec.Command("openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", certFile).Output()
	if err != nil {
		t.Fatalf("openssl x509 -fingerprint: %v", err)
	}
	_, fp, ok := strings.Cut(strings.TrimSpace(string(out)), "=")
	if !ok {
		t.Fatalf("openssl x509 -fingerprint printed %q", out)
	}
	return fp
}

// TestTLSClientCertificates: smtpd_tls_ask_ccert, smtpd_tls_req_ccert,
// permit_tls_all_clientcerts, permit_tls_clientcerts and
// relay_clientcerts were refused or had no effect. A client whose
// certificate the CA signed relays; so does one whose self-made
// certificate's fingerprint (as openssl prints it) is in relay_clientcerts;
// others do not; and where TLS is mandatory with smtpd_tls_req_ccert, a
// client without a trusted certificate gets 421 4.7.1.
func TestTLSClientCertificates(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, dir)
	otherDir := t.TempDir()
	other := newTestCA(t, otherDir) // an authority the server does not trust
	trustedCert, trustedKey := ca.clientCert(t, dir, "trusted.client.tst")
	listedCert, listedKey := other.clientCert(t, otherDir, "listed.client.tst")
	strangerCert, strangerKey := other.clientCert(t, otherDir, "stranger.client.tst")
	in := newInstance(t, options{
		master: testMasterCF + `127.0.0.1:0 inet n - n - - smtpd
127.0.0.2:0 inet n - n - - smtpd
  -o syslog_name=tern/mandatory
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_req_ccert=yes
`,
		main: []string{
			"smtpd_tls_cert_file = " + ca.certFile, "smtpd_tls_key_file = " + ca.keyFile,
			"smtpd_tls_security_level = may", "smtpd_tls_ask_ccert = yes", "smtpd_tls_CAfile = " + ca.caFile,
			"smtpd_tls_loglevel = 1", "mynetworks = 192.0.2.0/24", "smtpd_error_sleep_time = 0",
			"relay_clientcerts = inline:{ " + opensslFingerprint(t, listedCert) + "=listed.client.tst }",
			"smtpd_relay_restrictions = permit_tls_all_clientcerts, permit_tls_clientcerts, reject_unauth_destination",
		},
	})
	in.start()
	may, mandatory := in.smtpAddr("127.0.0.1:0"), in.smtpAddr("127.0.0.2:0")
	relay := func(addr string, cert ...string) (string, error) {
		args := []string{"--server", addr, "--tls", "--quit-after", "RCPT", "--from", "a@client.tst", "--to", "someone@elsewhere.tst"}
		if len(cert) == 2 {
			args = append(args, "--tls-cert", cert[0], "--tls-key", cert[1])
		}
		return swaks(t, args...)
	}
	for _, tt := range []struct {
		name   string
		cert   []string
		relays bool
		logged string
	}{
		{"signed by the CA", []string{trustedCert, trustedKey}, true, "Trusted TLS connection established from localhost[127.0.0.1]"},
		{"listed fingerprint", []string{listedCert, listedKey}, true, "Untrusted TLS connection established from localhost[127.0.0.1]"},
		{"neither", []string{strangerCert, strangerKey}, false, "Untrusted TLS connection established"},
		{"no certificate", nil, false, "Anonymous TLS connection established from localhost[127.0.0.1]"},
	} {
		before := len(in.log())
		out, err := relay(may, tt.cert...)
		switch {
		case tt.relays && (err != nil || !strings.Contains(out, "250 2.1.5")):
			t.Errorf("%s: relaying refused: %v\n%s", tt.name, err, out)
		case !tt.relays && !strings.Contains(out, "Relay access denied"):
			t.Errorf("%s: relaying not refused:\n%s", tt.name, out)
		case !strings.Contains(in.log()[before:], tt.logged):
			t.Errorf("%s: no log line %q", tt.name, tt.logged)
		}
	}
	out, _ := relay(mandatory)
	if !strings.Contains(out, "421 4.7.1 mail.example.tst Error: No client certificate presented") {
		t.Errorf("smtpd_tls_req_ccert without a certificate:\n%s", out)
	}
	if out, err := relay(mandatory, trustedCert, trustedKey); err != nil || !strings.Contains(out, "250 2.1.5") {
		t.Errorf("smtpd_tls_req_ccert with a trusted certificate: %v\n%s", err, out)
	}
	in.waitLog("tern/mandatory/smtpd", deliveryTimeout)
	if !strings.Contains(in.log(), "NOQUEUE: abort: TLS from localhost[127.0.0.1]: No client certificate presented") {
		t.Errorf("no abort line in the log")
	}

	// tern's own smtp client offers smtp_tls_cert_file (which had no
	// effect) and so relays through the mandatory service.
	sender := newInstance(t, options{master: senderMasterCF, main: append(append([]string{}, senderMain...),
		"relayhost = [127.0.0.2]:"+portOf(t, mandatory),
		"smtp_tls_security_level = encrypt",
		"smtp_tls_cert_file = "+trustedCert, "smtp_tls_key_file = "+trustedKey,
	)})
	sender.start()
	if code, out := sender.sendmail("Subject: with a certificate\n\nbody\n", "-f", "a@sender.tst", "someone@elsewhere.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	sender.waitLog("to=<someone@elsewhere.tst>, relay=127.0.0.2[127.0.0.2]:"+portOf(t, mandatory), deliveryTimeout)
	if !strings.Contains(sender.log(), "status=sent") {
		t.Errorf("the relay through the certificate-only service failed:\n%s", sender.log())
	}
}
