package sqlmap

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testdb"
)

// referenceFiles are the .cf files of the Postfix + Dovecot + MySQL
// reference set-up, kept verbatim in testdata/reference.
var referenceFiles = []string{
	"mysql-virtual-mailbox-domains.cf",
	"mysql-virtual-mailbox-maps.cf",
	"mysql-virtual-alias-maps.cf",
}

// copyReference copies the reference .cf files unchanged into a temp dir.
func copyReference(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range referenceFiles {
		b, err := os.ReadFile(filepath.Join("testdata", "reference", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readFile returns a test data file's content.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeCF writes a .cf file and returns its path.
func writeCF(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "x.cf")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// deadPort returns a loopback port where nothing listens.
func deadPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// lookupCase is one probe of a table.
type lookupCase struct {
	file, key, want string
	found           bool
}

// referenceCases are the answers the reference set-up gives.
var referenceCases = []lookupCase{
	{"mysql-virtual-mailbox-domains.cf", "example.com", "1", true},
	{"mysql-virtual-mailbox-domains.cf", "EXAMPLE.com", "1", true},
	{"mysql-virtual-mailbox-domains.cf", "nosuchdomain.example", "", false},
	{"mysql-virtual-mailbox-maps.cf", "email1@example.com", "1", true},
	{"mysql-virtual-mailbox-maps.cf", "nosuchuser@example.com", "", false},
	{"mysql-virtual-alias-maps.cf", "alias@example.com", "email1@example.com", true},
	{"mysql-virtual-alias-maps.cf", "nosuchuser@example.com", "", false},
	// Keys that need escaping.
	{"mysql-virtual-alias-maps.cf", "o'neil@example.com", "quote@example.com", true},
	{"mysql-virtual-alias-maps.cf", `back\slash@example.com`, "backslash@example.com", true},
	{"mysql-virtual-alias-maps.cf", "x' OR '1'='1", "", false},
	{"mysql-virtual-alias-maps.cf", `x\' OR 1=1 -- `, "", false},
	{"mysql-virtual-alias-maps.cf", "\"dq\"\n\r\x1a@example.com", "", false},
	// Several rows are joined with commas.
	{"mysql-virtual-alias-maps.cf", "team@example.com", "email1@example.com,email2@example.com", true},
}

// checkCases opens each file of cases as a typ table and probes it.
func checkCases(t *testing.T, typ, dir string, cases []lookupCase) {
	t.Helper()
	tables := map[string]*Table{}
	for _, c := range cases {
		tbl := tables[c.file]
		if tbl == nil {
			var err error
			if tbl, err = Open(typ, filepath.Join(dir, c.file)); err != nil {
				t.Fatal(err)
			}
			defer tbl.Close()
			tables[c.file] = tbl
		}
		got, found, err := tbl.Lookup(c.key)
		if err != nil || got != c.want || found != c.found {
			t.Errorf("%s Lookup(%q) = %q, %v, %v; want %q, %v, nil", tbl.Name(), c.key, got, found, err, c.want, c.found)
		}
	}
}

// checkStopped checks that lookups fail with an error, twice (the second
// time within retry_interval), once the server is gone.
func checkStopped(t *testing.T, tbl *Table) {
	t.Helper()
	for i := range 2 {
		start := time.Now()
		v, found, err := tbl.Lookup("alias@example.com")
		if err == nil || found {
			t.Errorf("lookup %d with the server stopped = %q, %v, %v; want an error", i, v, found, err)
		}
		if d := time.Since(start); d > 12*time.Second {
			t.Errorf("lookup %d with the server stopped took %v", i, d)
		}
	}
}

// checkFailover checks that a table with a dead host and a live one
// always answers.
func checkFailover(t *testing.T, typ, cf string) {
	t.Helper()
	tbl, err := Open(typ, writeCF(t, cf))
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	for i := range 6 {
		if v, found, err := tbl.Lookup("alias@example.com"); err != nil || !found || v != "email1@example.com" {
			t.Errorf("failover lookup %d = %q, %v, %v", i, v, found, err)
		}
	}
}

func TestMySQLReference(t *testing.T) {
	m := testdb.StartMariaDB(t)
	setup := `CREATE DATABASE mailserver;
CREATE USER 'mailuser'@'127.0.0.1' IDENTIFIED BY 'mailpassword';
CREATE USER 'mailuser'@'localhost' IDENTIFIED BY 'mailpassword';
GRANT SELECT ON mailserver.* TO 'mailuser'@'127.0.0.1';
GRANT SELECT ON mailserver.* TO 'mailuser'@'localhost';`
	if err := m.Exec(setup); err != nil {
		t.Fatal(err)
	}
	if err := m.ExecIn("mailserver", readFile(t, "testdata/reference/schema.sql")); err != nil {
		t.Fatal(err)
	}
	extra := `INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
  (1, 'o\'neil@example.com', 'quote@example.com'),
  (1, 'back\\slash@example.com', 'backslash@example.com'),
  (1, 'team@example.com', 'email1@example.com'),
  (1, 'team@example.com', 'email2@example.com');`
	if err := m.ExecIn("mailserver", extra); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MYSQL_TCP_PORT", strconv.Itoa(m.Port))
	dir := copyReference(t)
	checkCases(t, "mysql", dir, referenceCases)

	creds := "user = mailuser\npassword = mailpassword\ndbname = mailserver\nquery = SELECT destination FROM virtual_aliases WHERE source='%s'\n"
	t.Run("unix socket", func(t *testing.T) {
		checkFailover(t, "mysql", creds+"hosts = unix:"+m.Socket+"\n")
	})
	t.Run("localhost means the socket", func(t *testing.T) {
		t.Setenv("MYSQL_UNIX_PORT", m.Socket)
		t.Setenv("MYSQL_TCP_PORT", strconv.Itoa(deadPort(t)))
		checkFailover(t, "mysql", creds+"hosts = localhost\n")
	})
	t.Run("failover", func(t *testing.T) {
		checkFailover(t, "mysql", creds+fmt.Sprintf("hosts = inet:127.0.0.1:%d, 127.0.0.1:%d\n", deadPort(t), m.Port))
	})
	t.Run("wrong password", func(t *testing.T) {
		tbl, err := Open("mysql", writeCF(t, "hosts = 127.0.0.1\nuser = mailuser\npassword = wrong\ndbname = mailserver\nquery = SELECT 1\n"))
		if err != nil {
			t.Fatal(err)
		}
		defer tbl.Close()
		if _, _, err := tbl.Lookup("example.com"); err == nil {
			t.Error("no error with a wrong password")
		}
	})

	tbl, err := Open("mysql", filepath.Join(dir, "mysql-virtual-alias-maps.cf"))
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if _, _, err := tbl.Lookup("alias@example.com"); err != nil { // a pooled connection exists
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, tbl)
}

func TestPgsqlReference(t *testing.T) {
	p := testdb.StartPostgres(t)
	for _, stmt := range []string{
		"CREATE USER mailuser PASSWORD 'mailpassword'",
		"CREATE DATABASE mailserver",
	} {
		if err := p.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	schema := readFile(t, "testdata/schema-pgsql.sql") + `
INSERT INTO virtual_aliases (domain_id, source, destination) VALUES
  (1, 'o''neil@example.com', 'quote@example.com'),
  (1, 'back\slash@example.com', 'backslash@example.com'),
  (1, 'team@example.com', 'email1@example.com'),
  (1, 'team@example.com', 'email2@example.com');
GRANT SELECT ON ALL TABLES IN SCHEMA public TO mailuser;`
	if err := p.ExecIn("mailserver", schema); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGPORT", strconv.Itoa(p.Port))
	dir := copyReference(t)
	checkCases(t, "pgsql", dir, referenceCases)

	creds := "user = mailuser\npassword = mailpassword\ndbname = mailserver\nquery = SELECT destination FROM virtual_aliases WHERE source='%s'\n"
	t.Run("unix socket", func(t *testing.T) {
		checkFailover(t, "pgsql", creds+"hosts = unix:"+p.SocketDir+"\n")
	})
	t.Run("failover", func(t *testing.T) {
		checkFailover(t, "pgsql", creds+fmt.Sprintf("hosts = inet:127.0.0.1:%d, 127.0.0.1:%d\n", deadPort(t), p.Port))
	})
	t.Run("connection URI", func(t *testing.T) {
		uri := fmt.Sprintf("postgresql://mailuser:mailpassword@127.0.0.1:%d/mailserver?sslmode=disable", p.Port)
		checkFailover(t, "pgsql", "query = SELECT destination FROM virtual_aliases WHERE source='%s'\nhosts = "+uri+"\n")
	})

	tbl, err := Open("pgsql", filepath.Join(dir, "mysql-virtual-alias-maps.cf"))
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Close()
	if _, _, err := tbl.Lookup("alias@example.com"); err != nil { // a pooled connection exists
		t.Fatal(err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	checkStopped(t, tbl)
}
