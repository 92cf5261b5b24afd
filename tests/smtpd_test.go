package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smtpdMasterCF adds smtp (plain, STARTTLS offered), submission (TLS
// required, AUTH) and smtps (implicit TLS) services on loopback port 0;
// the harness learns each port from master's log.
const smtpdMasterCF = testMasterCF + `127.0.0.1:0 inet n - n - - smtpd
127.0.0.2:0 inet n - n - - smtpd
  -o syslog_name=tern/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
127.0.0.3:0 inet n - n - - smtpd
  -o syslog_name=tern/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
`

// smtpdInstance starts a suite with the three SMTP services, a test CA
// and a password map with user "alice", password "wonderland".
func smtpdInstance(t *testing.T, extraMain ...string) (*instance, testCA) {
	t.Helper()
	tlsDir := t.TempDir()
	if err := os.Chmod(tlsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, tlsDir)
	// SHA-512-crypt of "wonderland" with salt "saltsalt".
	hash := cryptSHA512(t, "wonderland")
	users := filepath.Join(tlsDir, "sasl-users")
	if err := os.WriteFile(users, []byte("alice "+hash+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	main := append([]string{
		"smtpd_tls_cert_file = " + ca.certFile,
		"smtpd_tls_key_file = " + ca.keyFile,
		"smtpd_tls_security_level = may",
		"smtpd_sasl_type = tern",
		"tern_sasl_password_maps = texthash:" + users,
		"mynetworks = 192.0.2.0/24",
		"smtpd_error_sleep_time = 0",
	}, extraMain...)
	in := newInstance(t, options{master: smtpdMasterCF, main: main})
	in.start()
	return in, ca
}

func cryptSHA512(t *testing.T, password string) string {
	t.Helper()
	out, err := exec.Command("openssl", "passwd", "-6", "-salt", "saltsalt", password).Output()
	if err != nil {
		t.Fatalf("openssl passwd: %v", err)
	}
	return strings.TrimSpace(string(out))
}

var listenRE = regexp.MustCompile(`service (\S+): listening on (\S+)`)

// smtpAddr returns the address master bound for the service named name.
func (in *instance) smtpAddr(name string) string {
	in.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range listenRE.FindAllStringSubmatch(in.log(), -1) {
			if m[1] == name {
				return m[2]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	in.t.Fatalf("no listener for %s in the log", name)
	return ""
}

func swaks(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if _, err := exec.LookPath("swaks"); err != nil {
		t.Fatal("swaks not installed (.ci/run installs it)")
	}
	cmd := exec.Command("swaks", append([]string{"--timeout", "20"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestSwaksPlainDelivery(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", rcpt+"@example.tst",
		"--ehlo", "client.remote.tst", "--header", "Subject: swaks plain", "--body", "hello over smtp")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "hello over smtp")
	mbox := in.mbox(rcpt)
	for _, want := range []string{
		"Received: from client.remote.tst (localhost [127.0.0.1])",
		"by mail.example.tst (tern) with ESMTP id ",
		"for <" + rcpt + "@example.tst>",
		"Subject: swaks plain",
	} {
		if !strings.Contains(mbox, want) {
			t.Errorf("mailbox lacks %q:\n%s", want, mbox)
		}
	}
	// smtpd logs the disconnect after its 221: wait for the lines.
	for _, want := range []string{"tern/smtpd[", "connect from localhost[127.0.0.1]", ": client=localhost[127.0.0.1]",
		"disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5"} {
		waitFor(t, 10*time.Second, "log line "+want, func() bool { return strings.Contains(in.log(), want) })
	}
}

// TestRelayDeniedOutsideMynetworks: loopback is outside mynetworks here,
// so relaying anywhere but example.tst is refused with Postfix's reply.
func TestRelayDeniedOutsideMynetworks(t *testing.T) {
	in, _ := smtpdInstance(t)
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "spammer@remote.tst", "--to", "victim@elsewhere.tst")
	if err == nil || !strings.Contains(out, "454 4.7.1 <victim@elsewhere.tst>: Relay access denied") {
		t.Fatalf("relay not refused: %v\n%s", err, out)
	}
	if !strings.Contains(in.log(), "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 454 4.7.1 <victim@elsewhere.tst>: Relay access denied; from=<spammer@remote.tst> to=<victim@elsewhere.tst> proto=ESMTP helo=<") {
		t.Errorf("no reject log line:\n%s", in.log())
	}
}

func TestSwaksSTARTTLSAndImplicitTLS(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--tls", "--from", "a@remote.tst",
		"--to", rcpt+"@example.tst", "--body", "starttls body")
	if err != nil {
		t.Fatalf("swaks --tls: %v\n%s", err, out)
	}
	out, err = swaks(t, "--server", in.smtpAddr("127.0.0.3:0"), "--tlsc", "--from", "a@remote.tst",
		"--to", rcpt+"@example.tst", "--body", "implicit tls body")
	if err != nil {
		t.Fatalf("swaks --tlsc: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "starttls body")
	in.waitMbox(rcpt, "implicit tls body")
	if n := strings.Count(in.mbox(rcpt), "with ESMTPS id"); n != 2 {
		t.Errorf("%d Received headers say ESMTPS, want 2", n)
	}
}

// pythonSMTP runs a Python smtplib script with the server's address and
// the CA file as arguments and returns its output.
func pythonSMTP(t *testing.T, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("python3", append([]string{"-c", script}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const pySubmission = `
import smtplib, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = smtplib.SMTP(host, int(port), timeout=20)
s.ehlo("client.example")
print("before-tls auth:", s.has_extn("auth"))
code, msg = s.mail("alice@example.tst")
print("mail before tls:", code, msg.decode())
s.starttls(context=ctx)
s.ehlo("client.example")
print("after-tls auth:", s.esmtp_features.get("auth", "").strip())
try:
    s.login("alice", "wrong")
except smtplib.SMTPAuthenticationError as e:
    print("bad password:", e.smtp_code, e.smtp_error.decode())
s.login("alice", "wonderland")
print("login ok")
s.sendmail("alice@example.tst", [sys.argv[3]], "Subject: submitted\r\n\r\nvia submission\r\n")
s.quit()
print("done")
`

func TestSubmissionSTARTTLSAuth(t *testing.T) {
	in, ca := smtpdInstance(t)
	out, err := pythonSMTP(t, pySubmission, in.smtpAddr("127.0.0.2:0"), ca.caFile, "friend@elsewhere.tst")
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	for _, want := range []string{
		"before-tls auth: False",
		"mail before tls: 530 5.7.0 Must issue a STARTTLS command first",
		"after-tls auth: PLAIN LOGIN",
		"bad password: 535 5.7.8",
		"login ok", "done",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The authenticated client may relay: the message is queued for the
	// remote domain (no smtp client yet, so it waits in the queue).
	in.waitLogMatch(regexp.MustCompile(`: client=localhost\[127\.0\.0\.1\], sasl_method=PLAIN, sasl_username=alice`), deliveryTimeout)
	if !strings.Contains(in.log(), "tern/submission/smtpd[") {
		t.Errorf("submission does not log as tern/submission/smtpd")
	}
}

// TestSTARTTLSInjectionIgnored sends a command in the same packet as
// STARTTLS: it must be discarded, not run inside the TLS session.
func TestSTARTTLSInjectionIgnored(t *testing.T) {
	in, ca := smtpdInstance(t)
	script := `
import socket, ssl, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=20)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        lines.append(l.strip())
        if len(l) < 4 or l[3] != "-":
            return lines
reply()
s.sendall(b"EHLO c\r\n"); reply()
s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.tst>\r\n")
print("starttls:", reply()[-1])
ctx = ssl.create_default_context(cafile=sys.argv[2])
t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
g = t.makefile("rb")
t.sendall(b"EHLO c\r\n")
while True:
    l = g.readline().decode()
    if l[3] != "-": break
t.sendall(b"RCPT TO:<x@example.tst>\r\n")
print("rcpt:", g.readline().decode().strip())
`
	out, err := pythonSMTP(t, script, in.smtpAddr("127.0.0.1:0"), ca.caFile)
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if !strings.Contains(out, "starttls: 220 2.0.0 Ready to start TLS") ||
		!strings.Contains(out, "rcpt: 503 5.5.1 Error: need MAIL command") {
		t.Errorf("the injected MAIL was acted on:\n%s", out)
	}
}

// TestHangUpMidDataQueuesNothing: a client that disconnects during DATA
// leaves nothing in the queue.
func TestSMTPHangUpMidDataQueuesNothing(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	script := `
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=20)
f = s.makefile("rb")
f.readline()
for c in [b"HELO c", b"MAIL FROM:<a@remote.tst>", ("RCPT TO:<%s@example.tst>" % sys.argv[2]).encode(), b"DATA"]:
    s.sendall(c + b"\r\n"); print(f.readline().decode().strip())
s.sendall(b"Subject: half\r\n\r\nhalf a message\r\n")
s.close()
`
	out, err := pythonSMTP(t, script, in.smtpAddr("127.0.0.1:0"), rcpt)
	if err != nil || !strings.Contains(out, "354") {
		t.Fatalf("python: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "lost connection after DATA", func() bool {
		return strings.Contains(in.log(), "lost connection after DATA")
	})
	if q := in.run("mailq"); !strings.Contains(q, "Mail queue is empty") {
		t.Errorf("queue not empty:\n%s", q)
	}
	if strings.Contains(in.log(), "half") {
		t.Errorf("log mentions the abandoned message")
	}
}

// waitMbox waits until text is in user's mailbox.
func (in *instance) waitMbox(user, text string) {
	in.t.Helper()
	waitFor(in.t, 30*time.Second, text+" in the mailbox of "+user, func() bool {
		return strings.Contains(in.mbox(user), text)
	})
}

// TestAuthenticatedSenderHeader: with smtpd_sasl_authenticated_header =
// yes the Received header names the SASL login, as Postfix writes it.
func TestAuthenticatedSenderHeader(t *testing.T) {
	rcpt := localUser(t)
	in, ca := smtpdInstance(t, "smtpd_sasl_authenticated_header = yes")
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.2:0"), "--tls", "--tls-ca-path", ca.caFile,
		"--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "wonderland",
		"--from", "alice@example.tst", "--to", rcpt+"@example.tst", "--body", "authenticated body")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "authenticated body")
	if !regexp.MustCompile(`\n\t\(Authenticated sender: alice\)\n\tby mail\.example\.tst \(tern\) with ESMTPSA id `).MatchString(in.mbox(rcpt)) {
		t.Errorf("no (Authenticated sender: alice) in Received:\n%s", in.mbox(rcpt))
	}
}

// TestClientLineComesFirst: smtpd's "ID: client=" line comes before the
// queue manager's lines about the message and before its delivery, as in
// Postfix's maillog, and is written as smtpd's (its name and process id,
// those of its "connect from" line). It used to come once qmgr had
// answered, often after the delivery (see TestSenderDependentRelayAndLogin).
func TestClientLineComesFirst(t *testing.T) {
	rcpt := localUser(t)
	in, _ := smtpdInstance(t)
	addr := in.smtpAddr("127.0.0.1:0")
	for i := 0; i < 3; i++ {
		if out, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", rcpt+"@example.tst",
			"--header", "Message-Id: <order-"+strconv.Itoa(i)+"@remote.tst>", "--body", "order body "+strconv.Itoa(i)); err != nil {
			t.Fatalf("swaks: %v\n%s", err, out)
		}
	}
	in.waitMbox(rcpt, "order body 2")
	connect := regexp.MustCompile(`tern/smtpd\[(\d+)\]: connect from localhost\[127\.0\.0\.1\]`)
	client := regexp.MustCompile(`(?m)tern/smtpd\[(\d+)\]: (\w+): client=localhost\[127\.0\.0\.1\]$`)
	waitFor(t, deliveryTimeout, "3 removed lines", func() bool { return strings.Count(in.log(), ": removed\n") >= 3 })
	log := in.log()
	m := connect.FindStringSubmatch(log)
	clients := client.FindAllStringSubmatchIndex(log, -1)
	if m == nil || len(clients) != 3 {
		t.Fatalf("want a connect line and 3 client= lines:\n%s", log)
	}
	for _, c := range clients {
		pid, id := log[c[2]:c[3]], log[c[4]:c[5]]
		if pid != m[1] {
			t.Errorf("%s: client= line written as smtpd[%s], smtpd is %s", id, pid, m[1])
		}
		for _, later := range []string{id + ": message-id=<order-", id + ": from=<sender@remote.tst>", id + ": to=<" + rcpt + "@example.tst>", id + ": removed"} {
			if i := strings.Index(log, later); i < c[0] {
				t.Errorf("%q comes before the client= line:\n%s", later, log)
			}
		}
	}
}
