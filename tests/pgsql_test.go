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

// TestPostgreSQLMapsDecideAcceptanceAndRouting has a real PostgreSQL
// server say which domains are relayed, which of their recipients exist,
// and which transport each domain takes, through smtpd and qmgr.
func TestPostgreSQLMapsDecideAcceptanceAndRouting(t *testing.T) {
	pg := testdb.StartPostgres(t)
	if err := pg.Exec(`CREATE TABLE routes (domain text PRIMARY KEY, transport text NOT NULL);
CREATE TABLE recipients (address text PRIMARY KEY);
INSERT INTO routes VALUES ('pg.example', 'discard:routed by postgres');
INSERT INTO recipients VALUES ('ok@pg.example');`); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cf := func(name, query string) string {
		text := fmt.Sprintf("hosts = 127.0.0.1\nuser = %s\npassword = %s\ndbname = %s\nquery = %s\n",
			pg.User, pg.Password, pg.DBName, query)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return "pgsql:" + filepath.Join(dir, name)
	}
	domains := cf("relay-domains.cf", "SELECT 1 FROM routes WHERE domain = '%s'")
	rcpts := cf("relay-recipients.cf", "SELECT 'OK' FROM recipients WHERE address = '%s'")
	transport := cf("transport.cf", "SELECT transport FROM routes WHERE domain = '%s'")
	// The daemons get PGPORT from "tern start" through import_environment,
	// as libpq's users in Postfix do.
	t.Setenv("PGPORT", strconv.Itoa(pg.Port))
	in, _ := smtpdInstance(t, "relay_domains = "+domains, "relay_recipient_maps = "+rcpts, "transport_maps = "+transport,
		"import_environment = MAIL_CONFIG TZ LANG=C PGPORT")

	out, err := in.command("tern", "map", "-q", "pg.example", transport).CombinedOutput()
	if err != nil || string(out) != "discard:routed by postgres\n" {
		t.Fatalf("tern map -q pg.example %s = %q, %v", transport, out, err)
	}
	addr := in.smtpAddr("127.0.0.1:0")
	if out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "ok@pg.example"); err != nil {
		t.Fatalf("swaks to a listed recipient: %v\n%s", err, out)
	}
	out2, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "nobody@pg.example")
	if err == nil || !strings.Contains(out2, "550 5.1.1 <nobody@pg.example>: Recipient address rejected: User unknown in relay recipient table") {
		t.Errorf("an unlisted recipient of a relay domain was not refused:\n%s", out2)
	}
	in.waitLog("to=<ok@pg.example>, relay=none", deliveryTimeout)
	in.waitLog("status=sent (discarded: routed by postgres)", deliveryTimeout)

	// With the server gone, lookups fail: smtpd answers 451, never 550.
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	out3, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "ok@pg.example")
	if err == nil || !strings.Contains(out3, "451 4.3.0") {
		t.Errorf("a dead database did not give a temporary failure:\n%s", out3)
	}
}
