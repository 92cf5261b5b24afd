package sqlmap

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// sqliteSchema is the test data for the SQLite lookup tests.
const sqliteSchema = `
CREATE TABLE alias (address TEXT, goto TEXT, active INT);
INSERT INTO alias VALUES
  ('alias@example.com', 'email1@example.com', 1),
  ('multi@example.com', 'a@example.com', 1),
  ('multi@example.com', 'b@example.com', 1),
  ('off@example.com', 'x@example.com', 0),
  ('o''neil@example.com', 'quoted@example.com', 1),
  ('back\slash@example.com', 'bs@example.com', 1),
  ('null@example.com', NULL, 1),
  ('empty@example.com', '', 1),
  ('Mixed@Example.com', 'mixed@example.com', 1),
  ('relay.example', 'mx.relay.example', 1),
  ('@other.example', 'catchall@example.com', 1);
CREATE TABLE pair (k TEXT, a TEXT, b TEXT);
INSERT INTO pair VALUES ('k', 'one', 'two'), ('k', NULL, 'three'), ('n', NULL, NULL);
CREATE TABLE parts (u TEXT, d TEXT, tld TEXT, v TEXT);
INSERT INTO parts VALUES ('user', 'mail.example.com', 'com', 'found-parts');
`

// newSQLiteDB creates the test database file and returns its path.
func newSQLiteDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "maps.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(sqliteSchema); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	return path
}

// openSQLiteTable writes a .cf file for dbpath and opens it.
func openSQLiteTable(t *testing.T, dbpath, cf string, opt Options) *Table {
	t.Helper()
	file := filepath.Join(t.TempDir(), "t.cf")
	if err := os.WriteFile(file, []byte("dbpath = "+dbpath+"\n"+cf), 0o644); err != nil {
		t.Fatal(err)
	}
	tbl, err := OpenWith("sqlite", file, opt)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { tbl.Close() })
	if tbl.Name() != "sqlite:"+file {
		t.Errorf("Name() = %q", tbl.Name())
	}
	return tbl
}

func TestSQLiteLookup(t *testing.T) {
	dbpath := newSQLiteDB(t)
	const aliasQuery = "query = SELECT goto FROM alias WHERE address='%s' AND active=1\n"
	type probe struct {
		key, want string
		found     bool
	}
	tests := []struct {
		name   string
		cf     string
		opt    Options
		probes []probe
	}{
		{"plain query", aliasQuery, Options{}, []probe{
			{"alias@example.com", "email1@example.com", true},
			{"nosuchuser@example.com", "", false},
			{"off@example.com", "", false},
			{"multi@example.com", "a@example.com,b@example.com", true},
			{"o'neil@example.com", "quoted@example.com", true}, // quote escaped
			{`back\slash@example.com`, "bs@example.com", true}, // backslash literal
			{"x' OR '1'='1", "", false},                        // no injection
			{"null@example.com", "", false},                    // NULL skipped
			{"empty@example.com", "", false},                   // empty skipped
			{"ALIAS@Example.COM", "email1@example.com", true},  // folded
			{"Mixed@Example.com", "", false},                   // folded, stored mixed
			{"bad\xffutf8@example.com", "", false},             // not UTF-8
			{"", "", false},                                    // empty key
			{"relay.example", "mx.relay.example", true},        // bare domain
		}},
		{"no fold", aliasQuery, Options{NoFold: true}, []probe{
			{"Mixed@Example.com", "mixed@example.com", true},
			{"ALIAS@example.com", "", false},
		}},
		{"columns and rows", "query = SELECT a, b FROM pair WHERE k='%s'\n", Options{}, []probe{
			{"k", "one,two,three", true},
			{"n", "", false},
		}},
		{"result_format", aliasQuery + "result_format = smtp:[%d] for %U\n", Options{}, []probe{
			{"alias@example.com", "smtp:[example.com] for alias", true},
			{"relay.example", "", false}, // %d of an unqualified result: skipped
		}},
		{"result_format needs key domain", "query = SELECT goto FROM alias WHERE address='%s'\nresult_format = %s via %D\n", Options{}, []probe{
			{"alias@example.com", "email1@example.com via example.com", true},
			{"relay.example", "", false}, // %D cannot be filled: no query
		}},
		{"expansion_limit ok", aliasQuery + "expansion_limit = 2\n", Options{}, []probe{
			{"multi@example.com", "a@example.com,b@example.com", true},
		}},
		{"domain list", aliasQuery + "domain = example.com, !bad.example\n", Options{}, []probe{
			{"alias@example.com", "email1@example.com", true},
			{"ALIAS@EXAMPLE.COM", "email1@example.com", true},
			{"relay.example", "", false},         // no @: not searched
			{"@other.example", "", false},        // empty local part: not searched
			{"user@bad.example", "", false},      // excluded
			{"user@unlisted.example", "", false}, // not listed
		}},
		{"user and domain parts", "query = SELECT v FROM parts WHERE u='%u' AND d='%d' AND tld='%1'\n", Options{}, []probe{
			{"user@mail.example.com", "found-parts", true},
			{"user", "", false},
			{"@mail.example.com", "", false},
		}},
		{"legacy fields", "select_field = goto\ntable = alias\nwhere_field = address\nadditional_conditions = AND active = 1\n", Options{}, []probe{
			{"alias@example.com", "email1@example.com", true},
			{"off@example.com", "", false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tbl := openSQLiteTable(t, dbpath, tc.cf, tc.opt)
			for _, p := range tc.probes {
				got, found, err := tbl.Lookup(p.key)
				if err != nil || got != p.want || found != p.found {
					t.Errorf("Lookup(%q) = %q, %v, %v; want %q, %v, nil", p.key, got, found, err, p.want, p.found)
				}
			}
		})
	}
}

func TestSQLiteErrors(t *testing.T) {
	dbpath := newSQLiteDB(t)
	tbl := openSQLiteTable(t, dbpath, "query = SELECT goto FROM alias WHERE address='%s'\nexpansion_limit = 1\n", Options{})
	if _, _, err := tbl.Lookup("multi@example.com"); err == nil || !strings.Contains(err.Error(), "expansion limit") {
		t.Errorf("over expansion_limit: err = %v", err)
	}
	if v, ok, err := tbl.Lookup("alias@example.com"); err != nil || !ok || v != "email1@example.com" {
		t.Errorf("within expansion_limit: %q %v %v", v, ok, err)
	}

	bad := openSQLiteTable(t, dbpath, "query = SELECT goto FROM nosuchtable WHERE address='%s'\n", Options{})
	for range 2 { // an SQLite file is never skipped as a failed host
		if _, found, err := bad.Lookup("alias@example.com"); err == nil || found {
			t.Errorf("query error: found=%v err=%v; want an error", found, err)
		}
	}

	dir := t.TempDir()
	for name, cf := range map[string]string{
		"missing.cf": "dbpath = " + filepath.Join(dir, "nosuch.db") + "\nquery = SELECT 1\n",
		"domain.cf":  "dbpath = " + dbpath + "\nquery = SELECT 1\ndomain = hash:/etc/x\n",
	} {
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, []byte(cf), 0o644); err != nil {
			t.Fatal(err)
		}
		if tbl, err := Open("sqlite", file); err == nil {
			tbl.Close()
			t.Errorf("%s: opened without error", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nosuch.db")); err == nil {
		t.Error("opening a missing database created it")
	}
	if _, err := Open("oracle", filepath.Join(dir, "missing.cf")); err == nil {
		t.Error("unsupported type accepted")
	}
	if _, err := Open("sqlite", filepath.Join(dir, "nosuch.cf")); err == nil {
		t.Error("missing .cf file accepted")
	}
}

func TestSQLiteConcurrent(t *testing.T) {
	tbl := openSQLiteTable(t, newSQLiteDB(t), "query = SELECT goto FROM alias WHERE address='%s'\n", Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				v, ok, err := tbl.Lookup("alias@example.com")
				if err != nil || !ok || v != "email1@example.com" {
					errs <- fmt.Errorf("goroutine %d lookup %d: %q %v %v", g, i, v, ok, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
