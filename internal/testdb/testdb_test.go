package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
)

// queryOne runs a query that returns one string.
func queryOne(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var s string
	if err := db.QueryRowContext(ctx, q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// refused reports whether nothing listens on 127.0.0.1:port.
func refused(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

func TestMariaDB(t *testing.T) {
	m := StartMariaDB(t)
	if err := m.Exec("CREATE TABLE kv (k VARCHAR(20), v VARCHAR(20)); INSERT INTO kv VALUES ('a', 'b');"); err != nil {
		t.Fatal(err)
	}
	if err := m.Exec("THIS IS NOT SQL"); err == nil {
		t.Error("Exec of bad SQL: no error")
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = m.User, m.Password, m.DBName
	cfg.Net, cfg.Addr = "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(m.Port))
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	if got := queryOne(t, db, "SELECT v FROM kv WHERE k='a'"); got != "b" {
		t.Errorf("as %s over TCP: got %q, want %q", m.User, got, "b")
	}
	cfg.Passwd = "wrong"
	bad, _ := mysql.NewConnector(cfg)
	badDB := sql.OpenDB(bad)
	defer badDB.Close()
	if err := badDB.Ping(); err == nil {
		t.Error("wrong password accepted")
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if !refused(m.Port) {
		t.Errorf("port %d still open after Stop", m.Port)
	}
}

func TestPostgres(t *testing.T) {
	p := StartPostgres(t)
	if err := p.Exec("CREATE TABLE kv (k text, v text); INSERT INTO kv VALUES ('a', 'b');"); err != nil {
		t.Fatal(err)
	}
	if err := p.Exec("THIS IS NOT SQL"); err == nil {
		t.Error("Exec of bad SQL: no error")
	}
	dsn := func(pw string) string {
		return fmt.Sprintf("host=127.0.0.1 port=%d user=%s password=%s dbname=%s sslmode=disable", p.Port, p.User, pw, p.DBName)
	}
	db, err := sql.Open("pgx", dsn(p.Password))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := queryOne(t, db, "SELECT v FROM kv WHERE k='a'"); got != "b" {
		t.Errorf("as %s over TCP: got %q, want %q", p.User, got, "b")
	}
	badDB, err := sql.Open("pgx", dsn("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	defer badDB.Close()
	if err := badDB.Ping(); err == nil {
		t.Error("wrong password accepted")
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if !refused(p.Port) {
		t.Errorf("port %d still open after Stop", p.Port)
	}
}
