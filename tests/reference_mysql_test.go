package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tern-mta/tern/internal/testdb"
)

// mysqlReferenceMasterCF is the suite with smtpd on loopback and the lmtp
// agent that virtual_transport names.
const mysqlReferenceMasterCF = testMasterCF + `127.0.0.1:0 inet n - n - - smtpd
lmtp unix - - n - - lmtp
`

// loadReferenceSchema creates the reference database "mailserver" with
// its map user, and the reference rows with real SHA-512-crypt hashes of
// "secret1" and "secret2".
func loadReferenceSchema(t *testing.T, db *testdb.MariaDB) {
	t.Helper()
	schema, err := os.ReadFile(filepath.Join(referenceDir, "postfix-dovecot-mysql", "schema.sql"))
	if err != nil {
		t.Skipf("reference setup not beside the repository: %v", err)
	}
	text := string(schema)
	for i, pw := range []string{"secret1", "secret2"} {
		text = strings.Replace(text, "'$6$...'", "'"+cryptSHA512(t, pw)+"'", 1)
		_ = i
	}
	setup := `CREATE DATABASE mailserver;
CREATE USER 'mailuser'@'127.0.0.1' IDENTIFIED BY 'mailpassword';
CREATE USER 'mailuser'@'localhost' IDENTIFIED BY 'mailpassword';
GRANT SELECT ON mailserver.* TO 'mailuser'@'127.0.0.1';
GRANT SELECT ON mailserver.* TO 'mailuser'@'localhost';`
	if err := db.Exec(setup); err != nil {
		t.Fatal(err)
	}
	if err := db.ExecIn("mailserver", text); err != nil {
		t.Fatalf("load schema.sql: %v", err)
	}
}

// startReferenceDovecot runs one Dovecot with LMTP and auth listeners in
// the queue's private/ folder, as the reference main.cf names them, users
// and passwords from the MariaDB tables, and Maildirs under mail/%d/%n.
func startReferenceDovecot(t *testing.T, in *instance, db *testdb.MariaDB) string {
	t.Helper()
	if _, err := os.Stat("/usr/lib/dovecot/modules/auth/libdriver_mysql.so"); err != nil {
		needPackage(t, "dovecot-mysql", "Dovecot's MySQL driver is not installed")
	}
	owner := mailUser(t)
	uid, _ := strconv.Atoi(owner.Uid)
	dir := dovecotDir(t, "tern-ref-")
	mail := filepath.Join(dir, "mail")
	mustMkdir(t, mail, 0o755)
	if isRoot() {
		chownTo(t, mail, owner)
	}
	lmtp := filepath.Join(in.queue, "private", "dovecot-lmtp")
	auth := filepath.Join(in.queue, "private", "auth")
	var b strings.Builder
	b.WriteString("protocols = lmtp\nssl = no\nauth_mechanisms = plain login\ndisable_plaintext_auth = no\n")
	fmt.Fprintf(&b, "mail_location = maildir:%s/%%d/%%n\nfirst_valid_uid = %d\nlast_valid_uid = 0\n", mail, uid)
	fmt.Fprintf(&b, "passdb {\n  driver = sql\n  args = %s/sql.conf\n}\n", dir)
	fmt.Fprintf(&b, "userdb {\n  driver = static\n  args = uid=%s gid=%s home=%s/%%d/%%n\n}\n", owner.Uid, owner.Gid, mail)
	fmt.Fprintf(&b, "service lmtp {\n  unix_listener %s {\n    mode = 0666\n  }\n}\n", lmtp)
	fmt.Fprintf(&b, "service auth {\n  unix_listener %s {\n    mode = 0666\n  }\n}\n", auth)
	sqlConf := fmt.Sprintf("driver = mysql\nconnect = host=127.0.0.1 port=%d dbname=mailserver user=mailuser password=mailpassword\n"+
		"default_pass_scheme = SHA512-CRYPT\npassword_query = SELECT email AS user, password FROM virtual_users WHERE email = '%%u'\n", db.Port)
	runDovecot(t, dir, b.String(), map[string]string{"sql.conf": sqlConf}, lmtp)
	waitFor(t, deliveryTimeout, "Dovecot's auth socket", func() bool {
		fi, err := os.Stat(auth)
		return err == nil && fi.Mode()&os.ModeSocket != 0
	})
	return mail
}

// TestReferenceMySQLDovecotSetup runs the postfix-dovecot-mysql reference
// main.cf and .cf files unchanged (paths under the test's folder): MariaDB
// decides which domains and users exist and resolves aliases, Dovecot
// stores the mail over LMTP and checks SMTP AUTH passwords, and only
// authenticated clients may relay.
func TestReferenceMySQLDovecotSetup(t *testing.T) {
	db := testdb.StartMariaDB(t)
	loadReferenceSchema(t, db)
	tlsDir := t.TempDir()
	if err := os.Chmod(tlsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, tlsDir)
	in := newInstance(t, options{master: mysqlReferenceMasterCF})
	in.env = append(in.env, "MYSQL_TCP_PORT="+strconv.Itoa(db.Port))
	in.appendMain(referenceMainCF(t, "postfix-dovecot-mysql", in.conf)...)
	// The certificate is the test CA's; clients outside 192.0.2.0/24 are
	// not trusted, so relaying needs AUTH.
	// MYSQL_TCP_PORT reaches the daemons only through import_environment,
	// as with Postfix and libmysqlclient.
	in.appendMain("import_environment = MAIL_CONFIG TZ LANG=C MYSQL_TCP_PORT",
		"smtpd_tls_cert_file = "+ca.certFile, "smtpd_tls_key_file = "+ca.keyFile,
		"mynetworks = 192.0.2.0/24", "smtpd_error_sleep_time = 0", "inet_interfaces = 127.0.0.1")

	cf := filepath.Join(in.conf, "mysql-virtual-mailbox-domains.cf")
	out, err := in.command("tern", "map", "-q", "example.com", "mysql:"+cf).CombinedOutput()
	if err != nil || string(out) != "1\n" {
		t.Fatalf("tern map -q example.com mysql:%s = %q, %v; want \"1\"", cf, out, err)
	}
	if err := in.command("tern", "map", "-q", "example.org", "mysql:"+cf).Run(); err == nil {
		t.Errorf("tern map -q found a domain the table lacks")
	}

	in.start()
	mail := startReferenceDovecot(t, in, db)
	addr := in.smtpAddr("127.0.0.1:0")
	for _, rcpt := range []string{"email1@example.com", "alias@example.com"} {
		if out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", rcpt,
			"--header", "Subject: for "+rcpt, "--body", "reference body for "+rcpt); err != nil {
			t.Fatalf("swaks to %s: %v\n%s", rcpt, err, out)
		}
	}
	refusals := []struct{ rcpt, want string }{
		{"nosuchuser@example.com", "550 5.1.1 <nosuchuser@example.com>: Recipient address rejected: User unknown in virtual mailbox table"},
		// smtpd_relay_restrictions keeps Postfix's default, whose
		// defer_unauth_destination answers before the reference's
		// reject_unauth_destination in smtpd_recipient_restrictions.
		{"someone@remote.example", "454 4.7.1 <someone@remote.example>: Relay access denied"},
	}
	for _, r := range refusals {
		out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", r.rcpt)
		if err == nil || !strings.Contains(out, r.want) {
			t.Errorf("RCPT TO:<%s>: want %q in\n%s", r.rcpt, r.want, out)
		}
	}
	// AUTH is offered only after STARTTLS; with it, relaying is allowed.
	out2, err := swaks(t, "--server", addr, "--from", "email1@example.com", "--to", "someone@remote.example",
		"--tls", "--tls-ca-path", ca.certFile, "--auth", "PLAIN", "--auth-user", "email1@example.com",
		"--auth-password", "secret1", "--quit-after", "RCPT")
	if err != nil || !strings.Contains(out2, "235 2.7.0") {
		t.Errorf("AUTH over STARTTLS with the Dovecot password failed: %v\n%s", err, out2)
	}
	out3, _ := swaks(t, "--server", addr, "--from", "email1@example.com", "--to", "someone@remote.example",
		"--tls", "--tls-ca-path", ca.certFile, "--auth", "PLAIN", "--auth-user", "email1@example.com",
		"--auth-password", "wrong", "--quit-after", "AUTH")
	if !strings.Contains(out3, "535 5.7.8") {
		t.Errorf("a wrong password was not refused with 535 5.7.8:\n%s", out3)
	}

	newDir := filepath.Join(mail, "example.com", "email1", "new")
	waitFor(t, deliveryTimeout, "both messages in email1's Maildir", func() bool {
		entries, _ := os.ReadDir(newDir)
		return len(entries) == 2
	})
	entries, _ := os.ReadDir(newDir)
	var all strings.Builder
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(newDir, e.Name()))
		all.Write(b)
	}
	for _, want := range []string{"reference body for email1@example.com", "reference body for alias@example.com"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("email1's Maildir lacks %q", want)
		}
	}
	in.waitLog("orig_to=<alias@example.com>", deliveryTimeout)
}
