package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Postgres is a running PostgreSQL server made for one test. Over the
// socket every local user is trusted; over TCP passwords are checked
// (scram-sha-256).
type Postgres struct {
	// Port is the TCP port on 127.0.0.1, also used in the socket name.
	Port int
	// User and Password log in to DBName.
	User, Password, DBName string
	// SocketDir holds the server's socket ".s.PGSQL.<Port>".
	SocketDir string
	// DataDir is the server's data directory; Log its log file.
	DataDir, Log string
	// StartupTime is how long initdb and starting the server took.
	StartupTime time.Duration

	proc     *process
	admin    *sql.DB // superuser in the test database
	stopOnce sync.Once
	stopErr  error
}

// postgresBinDir returns the newest /usr/lib/postgresql/*/bin holding
// initdb and postgres, or the directory of initdb on PATH, or "".
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if findProgram(filepath.Join(d, "initdb")) != "" && findProgram(filepath.Join(d, "postgres")) != "" {
			return d
		}
	}
	if p := findProgram("initdb"); p != "" && findProgram(filepath.Join(filepath.Dir(p), "postgres")) != "" {
		return filepath.Dir(p)
	}
	return ""
}

// versionOf returns the major version in /usr/lib/postgresql/N/bin.
func versionOf(bin string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return n
}

// StartPostgres runs initdb and the server (as user postgres when the
// tests run as root, else as the user running them), waits until
// it answers, and creates database "testdb" owned by user "testuser".
// Tables that Exec creates are readable and writable by that user. The
// server stops when the test ends.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		missing(t, "PostgreSQL (initdb, postgres; apt-get install postgresql)")
	}
	account := serverAccount(t, "postgres")
	begin := time.Now()
	dir := serverDir(t, account)
	p := &Postgres{
		Port: freePort(t), User: "testuser", Password: "testpass", DBName: "testdb",
		SocketDir: dir, DataDir: filepath.Join(dir, "data"), Log: filepath.Join(dir, "postgres.log"),
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: account.credential()}
		return cmd
	}
	run(t, asPostgres("initdb", "-D", p.DataDir, "-U", "postgres", "-E", "UTF8", "--locale=C",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"))
	p.start(t, asPostgres)
	if err := p.createAccount(); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	p.StartupTime = time.Since(begin)
	t.Logf("testdb: PostgreSQL on 127.0.0.1:%d ready after %v", p.Port, p.StartupTime.Round(time.Millisecond))
	return p
}

// start starts the server with its output in p.Log and waits for it.
func (p *Postgres) start(t testing.TB, asPostgres func(string, ...string) *exec.Cmd) {
	t.Helper()
	log, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer log.Close()
	cmd := asPostgres("postgres", "-D", p.DataDir, "-p", strconv.Itoa(p.Port),
		"-k", p.SocketDir, "-h", "127.0.0.1", "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	cmd.Stdout, cmd.Stderr = log, log
	proc, err := startProcess(cmd)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	p.proc = proc
	t.Cleanup(func() {
		if err := p.Stop(); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	boot, err := p.superuser("postgres")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer boot.Close()
	if err := proc.waitReady(boot.PingContext); err != nil {
		t.Fatalf("testdb: postgres: %v\n%s", err, tail(p.Log))
	}
}

// superuser returns a pool logged in as postgres over the socket.
func (p *Postgres) superuser(dbname string) (*sql.DB, error) {
	conn := fmt.Sprintf("host=%s port=%d user=postgres dbname=%s connect_timeout=5", p.SocketDir, p.Port, dbname)
	cfg, err := pgx.ParseConfig(conn)
	if err != nil {
		return nil, fmt.Errorf("postgres connection settings: %w", err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	return db, nil
}

// createAccount creates the test user and database and lets the user
// use tables that the superuser creates there.
func (p *Postgres) createAccount() error {
	boot, err := p.superuser("postgres")
	if err != nil {
		return err
	}
	defer boot.Close()
	err = execSQL(boot, fmt.Sprintf(`CREATE USER %s PASSWORD '%s'`, p.User, p.Password))
	if err == nil {
		err = execSQL(boot, fmt.Sprintf(`CREATE DATABASE %s OWNER %s`, p.DBName, p.User))
	}
	if err != nil {
		return err
	}
	if p.admin, err = p.superuser(p.DBName); err != nil {
		return err
	}
	return execSQL(p.admin, fmt.Sprintf(`ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO %[1]s;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON SEQUENCES TO %[1]s;`, p.User))
}

// execSQL runs statements with a time limit.
func execSQL(db *sql.DB, stmts string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmts); err != nil {
		return fmt.Errorf("postgres exec: %w", err)
	}
	return nil
}

// Exec runs one or more SQL statements as the superuser in the test
// database.
func (p *Postgres) Exec(stmts string) error {
	if p.admin == nil {
		return fmt.Errorf("postgres exec: server not set up")
	}
	return execSQL(p.admin, stmts)
}

// ExecIn runs one or more SQL statements as the superuser in database
// dbname, for example one that an earlier Exec created.
func (p *Postgres) ExecIn(dbname, stmts string) error {
	db, err := p.superuser(dbname)
	if err != nil {
		return err
	}
	defer db.Close()
	return execSQL(db, stmts)
}

// Stop shuts the server down (fast shutdown) and waits for it; later
// calls do nothing.
func (p *Postgres) Stop() error {
	p.stopOnce.Do(func() {
		if p.admin != nil {
			p.admin.Close()
		}
		p.stopErr = p.proc.stop(syscall.SIGINT)
	})
	return p.stopErr
}
