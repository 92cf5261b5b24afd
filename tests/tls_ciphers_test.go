package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestTLSCipherLists: the cipher settings of Mozilla's Postfix
// configuration (tls_medium_cipherlist as a list of suite names,
// smtpd_tls_exclude_ciphers, tls_ssl_options, tls_preempt_cipherlist,
// smtpd_tls_eecdh_grade)
// were all warned about as having no effect. smtpd now offers, in TLS
// 1.2, only the suites of the list that Go has, less the exclusions;
// openssl s_client, an independent client, gets a suite of the list and
// none outside it, and only P-384 for the key exchange (grade ultra);
// tern check has no warning for these settings.
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
			"tls_preempt_cipherlist = yes",
			"smtpd_tls_eecdh_grade = ultra"},
	})
	if check := in.run("tern", "check"); strings.Contains(check, "cipher") || strings.Contains(check, "tls_ssl_options") {
		t.Errorf("tern check warns about honoured TLS settings:\n%s", check)
	}
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	handshake := func(cipher string, curves ...string) (string, bool) {
		c := "secp384r1:prime256v1" // P-256 too: the certificate's curve
		if len(curves) > 0 {
			c = curves[0]
		}
		cmd := exec.Command("openssl", "s_client", "-connect", addr, "-starttls", "smtp", "-tls1_2", "-cipher", cipher, "-curves", c)
		cmd.Stdin = strings.NewReader("QUIT\r\n")
		out, err := cmd.CombinedOutput()
		return string(out), err == nil && strings.Contains(string(out), "Cipher is "+cipher)
	}
	if out, ok := handshake("ECDHE-ECDSA-AES256-GCM-SHA384"); !ok || !strings.Contains(out, "Temp Key: ECDH, secp384r1") {
		t.Errorf("a suite of the list was refused, or the key exchange was not P-384:\n%s", out)
	}
	// smtpd_tls_eecdh_grade = ultra: P-384 only.
	if out, ok := handshake("ECDHE-ECDSA-AES256-GCM-SHA384", "X25519:prime256v1"); ok {
		t.Errorf("a curve other than P-384 was accepted with grade ultra:\n%s", out)
	}
	for _, c := range []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-SHA"} {
		if out, ok := handshake(c); ok {
			t.Errorf("%s, outside the list or excluded, was accepted:\n%s", c, out)
		}
	}
}
