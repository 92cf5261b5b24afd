package sqlmap

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Connection limits. Lookups are short, so a few connections suffice.
const (
	connectTimeout = 10 * time.Second
	queryTimeout   = 10 * time.Second
	maxIdleConns   = 2
	maxOpenConns   = 8
)

// host is one configured database server with its connection pool.
type host struct {
	spec    string // as written in hosts
	unix    bool   // a UNIX-domain socket, tried before TCP hosts
	file    bool   // an SQLite file: never skipped after an error
	db      *sql.DB
	downTil time.Time // after a failure, skipped until then
}

// endpoint is a parsed hosts entry.
type endpoint struct {
	unix bool
	addr string // socket path, or host name / IP address
	port string // empty: the type's default
}

// parseEndpoint parses "host", "host:port", "inet:host:port",
// "inet:[v6addr]:port" and "unix:/path".
func parseEndpoint(spec string) (endpoint, error) {
	if path, ok := strings.CutPrefix(spec, "unix:"); ok {
		if path == "" {
			return endpoint{}, fmt.Errorf("bad host %q: empty socket path", spec)
		}
		return endpoint{unix: true, addr: path}, nil
	}
	s := strings.TrimPrefix(spec, "inet:")
	if s == "" {
		return endpoint{}, fmt.Errorf("bad host %q: empty host name", spec)
	}
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		// No port, or a bare IPv6 address.
		return endpoint{addr: strings.Trim(s, "[]")}, nil
	}
	if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
		return endpoint{}, fmt.Errorf("bad host %q: bad port %q", spec, p)
	}
	return endpoint{addr: h, port: p}, nil
}

// envPort returns the port from environment variable name, or def, the
// way libmysqlclient (MYSQL_TCP_PORT) and libpq (PGPORT) choose theirs.
func envPort(name, def string) string {
	if p := os.Getenv(name); p != "" {
		return p
	}
	return def
}

// openHost creates the connection pool for one hosts entry. Nothing is
// connected yet: like Postfix, tern connects at the first lookup.
func openHost(typ, spec string, c *Config) (*host, error) {
	var (
		db  *sql.DB
		ep  endpoint
		err error
	)
	switch {
	case typ == "pgsql" && (strings.HasPrefix(spec, "postgresql://") || strings.HasPrefix(spec, "postgres://")):
		db, err = openPgsqlURI(spec, c)
	default:
		if ep, err = parseEndpoint(spec); err != nil {
			return nil, err
		}
		if typ == "mysql" {
			db, err = openMySQL(ep, c)
		} else {
			db, err = openPgsql(ep, c)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("host %s: %w", spec, err)
	}
	db.SetMaxIdleConns(maxIdleConns)
	db.SetMaxOpenConns(maxOpenConns)
	idle, _ := c.intParam("idle_interval", 60)
	db.SetConnMaxIdleTime(time.Duration(idle) * time.Second)
	return &host{spec: spec, unix: ep.unix, db: db}, nil
}

// nopLogger silences the MySQL driver's own logging; errors reach the
// caller through Lookup.
type nopLogger struct{}

// Print discards its arguments.
func (nopLogger) Print(...any) {}

// openMySQL prepares a pool for a MySQL or MariaDB server. As with
// libmysqlclient, host "localhost" means the server's UNIX-domain socket
// ($MYSQL_UNIX_PORT, else /run/mysqld/mysqld.sock), and a missing port
// means $MYSQL_TCP_PORT, else 3306.
func openMySQL(ep endpoint, c *Config) (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = c.User, c.Password, c.DBName
	cfg.Timeout, cfg.ReadTimeout, cfg.WriteTimeout = connectTimeout, queryTimeout, queryTimeout
	cfg.Logger = nopLogger{}
	switch {
	case ep.unix:
		cfg.Net, cfg.Addr = "unix", ep.addr
	case ep.addr == "localhost":
		cfg.Net, cfg.Addr = "unix", envPort("MYSQL_UNIX_PORT", "/run/mysqld/mysqld.sock")
	default:
		port := ep.port
		if port == "" {
			port = envPort("MYSQL_TCP_PORT", "3306")
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(ep.addr, port)
	}
	if c.Charset != "" {
		if err := cfg.Apply(mysql.Charset(c.Charset, "")); err != nil {
			return nil, fmt.Errorf("charset %s: %w", c.Charset, err)
		}
	}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	return sql.OpenDB(conn), nil
}

// openPgsql prepares a pool for a PostgreSQL server. As with libpq, a
// UNIX-domain socket is named by its directory (a path ending in
// ".s.PGSQL.<port>" is also accepted), and a missing port means $PGPORT,
// else 5432.
func openPgsql(ep endpoint, c *Config) (*sql.DB, error) {
	h, port := ep.addr, ep.port
	if ep.unix {
		if base := filepath.Base(h); strings.HasPrefix(base, ".s.PGSQL.") {
			h, port = filepath.Dir(h), strings.TrimPrefix(base, ".s.PGSQL.")
		}
	}
	if port == "" {
		port = envPort("PGPORT", "5432")
	}
	kv := []string{"host=" + pgQuote(h), "port=" + pgQuote(port)}
	for _, f := range [][2]string{{"user", c.User}, {"password", c.Password}, {"dbname", c.DBName}} {
		if f[1] != "" {
			kv = append(kv, f[0]+"="+pgQuote(f[1]))
		}
	}
	return openPgx(strings.Join(kv, " "), c)
}

// openPgsqlURI prepares a pool from a postgresql:// connection URI, which
// carries its own credentials and database name.
func openPgsqlURI(uri string, c *Config) (*sql.DB, error) {
	return openPgx(uri, c)
}

// openPgx parses a libpq-style connection string and opens a pool that
// sends queries with the simple protocol, as each query text is new.
func openPgx(conn string, c *Config) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, fmt.Errorf("parse connection settings: %w", err)
	}
	cfg.ConnectTimeout = connectTimeout
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	if c.Encoding != "" {
		cfg.RuntimeParams["client_encoding"] = c.Encoding
	}
	return stdlib.OpenDB(*cfg), nil
}

// pgQuote quotes a value for a libpq keyword/value connection string.
func pgQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// openSQLite opens an SQLite database file read-only and checks that it
// can be read, so that a wrong dbpath is reported when the table opens.
func openSQLite(path string) (*host, error) {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	db, err := sql.Open("sqlite", "file:"+esc+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	db.SetMaxIdleConns(maxIdleConns)
	db.SetMaxOpenConns(maxOpenConns)
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return &host{spec: path, file: true, db: db}, nil
}
