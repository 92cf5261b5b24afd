package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTLSCipherLists: the cipher settings of Mozilla's Postfix
// configuration (tls_medium_cipherlist as a list of suite names,
// smtpd_tls_exclude_ciphers, tls_ssl_options, tls_preempt_cipherlist)
// were all warned about as having no effect. smtpd now offers, in TLS
// 1.2, only the suites of the list that Go has, less the exclusions;
// openssl s_client, an independent client, gets a suite of the list and
// none outside it, and tern check has no warning for them.
func TestTLSCipherLists(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, dir) // an ECDSA certificate: ECDHE-ECDSA suites
	in := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main: []string{"smtpd_tls_cert_file = " + ca.certFile, "smtpd_tls_key_file = " + ca.keyFile,
			"smtpd_tls_security_level = may",
			"smtpd_tls_mandatory_ciphers = medium",
			"tls_medium_cipherlist = ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:DHE-RSA-AES256-GCM-SHA384",
			"smtpd_tls_exclude_ciphers = aNULL, eNULL, EXPORT, DES, RC4, MD5, PSK, aECDH, CHACHA20",
			"tls_ssl_options = NO_COMPRESSION, NO_RENEGOTIATION",
			"tls_preempt_cipherlist = yes"},
	})
	if check := in.run("tern", "check"); strings.Contains(check, "cipher") || strings.Contains(check, "tls_ssl_options") {
		t.Errorf("tern check warns about honoured TLS settings:\n%s", check)
	}
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	handshake := func(cipher string) (string, bool) {
		cmd := exec.Command("openssl", "s_client", "-connect", addr, "-starttls", "smtp", "-tls1_2", "-cipher", cipher)
		cmd.Stdin = strings.NewReader("QUIT\r\n")
		out, err := cmd.CombinedOutput()
		return string(out), err == nil && strings.Contains(string(out), "Cipher is "+cipher)
	}
	if out, ok := handshake("ECDHE-ECDSA-AES256-GCM-SHA384"); !ok {
		t.Errorf("a suite of the list was refused:\n%s", out)
	}
	for _, c := range []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA"} {
		if out, ok := handshake(c); ok {
			t.Errorf("%s, outside the list or excluded, was accepted:\n%s", c, out)
		}
	}
}
