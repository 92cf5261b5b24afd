package tests

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dovecotAuth is a running Dovecot with nothing but its auth service.
type dovecotAuth struct {
	dir    string // base of its files
	socket string // the auth client listener, an absolute path
}

// startDovecotAuth runs Dovecot's auth service in a folder of its own,
// with a passwd-file holding users (name → password, hashed by doveadm as
// SHA512-CRYPT) and a client listener at an absolute path anyone may
// connect to. The service is stopped by t.Cleanup.
func startDovecotAuth(t *testing.T, users map[string]string) dovecotAuth {
	t.Helper()
	if _, err := exec.LookPath("dovecot"); err != nil {
		needPackage(t, "dovecot-core", "dovecot not installed")
	}
	doveadm, err := exec.LookPath("doveadm")
	if err != nil {
		t.Fatal("dovecot without doveadm")
	}
	dir := dovecotDir(t, "tern-dvc-")
	d := dovecotAuth{dir: dir, socket: filepath.Join(dir, "auth-client")}
	var passwd strings.Builder
	for name, password := range users {
		out, err := exec.Command(doveadm, "pw", "-s", "SHA512-CRYPT", "-p", password).Output()
		if err != nil {
			t.Fatalf("doveadm pw: %v", err)
		}
		hash := strings.TrimSpace(string(out))
		if !strings.HasPrefix(hash, "{SHA512-CRYPT}$6$") {
			t.Fatalf("doveadm pw gave %q", hash)
		}
		fmt.Fprintf(&passwd, "%s:%s\n", name, hash)
	}
	runDovecot(t, dir, d.config(), map[string]string{"passwd": passwd.String()}, d.socket)
	return d
}

// config is the body of a Dovecot configuration with no protocol but the
// auth service.
func (d dovecotAuth) config() string {
	var b strings.Builder
	b.WriteString("protocols =\nssl = no\nauth_mechanisms = plain login\n")
	b.WriteString("disable_plaintext_auth = no\nauth_failure_delay = 0\n")
	fmt.Fprintf(&b, "passdb {\n  driver = passwd-file\n  args = %s/passwd\n}\n", d.dir)
	b.WriteString("userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=/nonexistent\n}\n")
	fmt.Fprintf(&b, "service auth {\n  unix_listener %s {\n    mode = 0666\n  }\n}\n", d.socket)
	return b.String()
}

// pyDovecotSubmission authenticates at the submission service after
// STARTTLS with each mechanism on a connection of its own and prints each
// outcome. Arguments: address, CA file, user, password, relay recipient.
const pyDovecotSubmission = `
import smtplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
user, password, rcpt = sys.argv[3], sys.argv[4], sys.argv[5]

def session():
    s = smtplib.SMTP(host, int(port), timeout=20)
    s.ehlo("client.example")
    s.starttls(context=ctx)
    s.ehlo("client.example")
    return s

def attempt(label, mech, pw, send=False):
    s = session()
    print(label, "offered:", s.esmtp_features.get("auth", "").strip())
    s.user, s.password = user, pw
    auth = {"PLAIN": s.auth_plain, "LOGIN": s.auth_login}[mech]
    try:
        code, msg = s.auth(mech, auth, initial_response_ok=(mech == "PLAIN"))
        print(label, "auth:", code, msg.decode())
    except smtplib.SMTPAuthenticationError as e:
        print(label, "auth:", e.smtp_code, e.smtp_error.decode())
        s.quit()
        return
    if send:
        s.mail(user + "@example.tst")
        code, msg = s.rcpt(rcpt)
        print(label, "rcpt:", code, msg.decode())
        code, msg = s.data("Subject: via dovecot auth\r\n\r\nrelayed after SASL\r\n")
        print(label, "data:", code, msg.decode())
    s.quit()

# Failures last: Dovecot delays a client address after a failed attempt.
attempt("plain", "PLAIN", password, send=True)
attempt("login", "LOGIN", password)
attempt("badplain", "PLAIN", password + "x")
print("done")
`

// TestSMTPAuthWithDovecot: smtpd_sasl_type = dovecot against a real
// Dovecot auth service; PLAIN and LOGIN succeed with bob's password, a
// wrong one is refused, and the authenticated client may relay.
func TestSMTPAuthWithDovecot(t *testing.T) {
	dv := startDovecotAuth(t, map[string]string{"bob": "builder"})
	in, ca := startSMTPDSuite(t, "", []string{"smtpd_sasl_type = dovecot", "smtpd_sasl_path = " + dv.socket})
	out, err := pythonSMTP(t, pyDovecotSubmission, in.smtpAddr("127.0.0.2:0"), ca.caFile, "bob", "builder", "friend@elsewhere.tst")
	if err != nil {
		t.Fatalf("python smtplib: %v\n%s", err, out)
	}
	for _, want := range []string{
		"plain offered: PLAIN LOGIN",
		"plain auth: 235 2.7.0 Authentication successful",
		"plain rcpt: 250 ",
		"plain data: 250 ",
		"login auth: 235 2.7.0 Authentication successful",
		"badplain auth: 535 5.7.8",
		"done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("smtplib output lacks %q:\n%s", want, out)
		}
	}
	m := queuedAsRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no queue id in the output:\n%s", out)
	}
	id := m[1]
	in.waitLog(id+": client=localhost[127.0.0.1], sasl_method=PLAIN, sasl_username=bob", deliveryTimeout)
	// No smtp transport in smtpdMasterCF: the relayed message waits in
	// the queue for elsewhere.tst.
	waitFor(t, deliveryTimeout, "the relayed message in mailq", func() bool {
		q := in.run("mailq")
		return strings.Contains(q, id) && strings.Contains(q, "friend@elsewhere.tst")
	})
	if !strings.Contains(in.log(), "localhost[127.0.0.1]: SASL PLAIN authentication failed") {
		t.Errorf("no log line for the failed PLAIN attempt:\n%s", in.log())
	}
}
