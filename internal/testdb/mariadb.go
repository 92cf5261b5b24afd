package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDB is a running MariaDB server made for one test.
type MariaDB struct {
	// Port is the TCP port on 127.0.0.1.
	Port int
	// User and Password log in to DBName from 127.0.0.1 and localhost.
	User, Password, DBName string
	// SocketDir holds Socket, the server's UNIX-domain socket.
	SocketDir, Socket string
	// DataDir is the server's data directory; ErrorLog its log file.
	DataDir, ErrorLog string
	// StartupTime is how long installing and starting the server took.
	StartupTime time.Duration

	proc     *process
	admin    *sql.DB
	stopOnce sync.Once
	stopErr  error
}

// mariaDBProgram returns the server program and the installer.
func mariaDBPrograms() (server, install string) {
	server = findProgram("/usr/sbin/mariadbd", "mariadbd", "/usr/sbin/mysqld", "mysqld")
	install = findProgram("mariadb-install-db", "mysql_install_db")
	return server, install
}

// StartMariaDB installs a data directory, starts mariadbd (as user mysql
// when the tests run as root, else as the user running them),
// waits until it answers, and creates database "testdb" with user
// "testuser". The server stops when the test ends.
func StartMariaDB(t testing.TB) *MariaDB {
	t.Helper()
	server, install := mariaDBPrograms()
	if server == "" || install == "" {
		missing(t, "MariaDB (mariadbd, mariadb-install-db; apt-get install mariadb-server)")
	}
	account := serverAccount(t, "mysql")
	begin := time.Now()
	dir := serverDir(t, account)
	m := &MariaDB{
		Port: freePort(t), User: "testuser", Password: "testpass", DBName: "testdb",
		SocketDir: dir, Socket: filepath.Join(dir, "mysqld.sock"),
		DataDir: filepath.Join(dir, "data"), ErrorLog: filepath.Join(dir, "error.log"),
	}
	var asUser []string // as root, the programs switch to user mysql themselves
	if account.switchUser {
		asUser = []string{"--user=mysql"}
	}
	installArgs := append([]string{"--no-defaults", "--datadir=" + m.DataDir,
		"--auth-root-authentication-method=normal", "--skip-test-db",
		"--innodb-flush-method=nosync", "--innodb-buffer-pool-size=16M"}, asUser...)
	run(t, exec.Command(install, installArgs...))
	serverArgs := append([]string{"--no-defaults",
		"--datadir=" + m.DataDir, "--socket=" + m.Socket,
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--log-error=" + m.ErrorLog,
		"--port=" + strconv.Itoa(m.Port), "--bind-address=127.0.0.1",
		"--skip-log-bin", "--skip-name-resolve", "--innodb-buffer-pool-size=16M",
		"--innodb-flush-log-at-trx-commit=0", "--innodb-flush-method=nosync",
		"--tmpdir=" + dir}, asUser...)
	cmd := exec.Command(server, serverArgs...)
	proc, err := startProcess(cmd)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	m.proc = proc
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	if m.admin, err = m.rootDB(); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	if err := proc.waitReady(m.admin.PingContext); err != nil {
		t.Fatalf("testdb: mariadbd: %v\n%s", err, tail(m.ErrorLog))
	}
	if err := m.createAccount(); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	m.StartupTime = time.Since(begin)
	t.Logf("testdb: MariaDB on 127.0.0.1:%d ready after %v", m.Port, m.StartupTime.Round(time.Millisecond))
	return m
}

// rootDB returns a pool logged in as root over the socket, allowing
// several statements per Exec.
func (m *MariaDB) rootDB() (*sql.DB, error) {
	cfg := mysql.NewConfig()
	cfg.User, cfg.Net, cfg.Addr = "root", "unix", m.Socket
	cfg.MultiStatements = true
	cfg.Timeout = 5 * time.Second
	cfg.Logger = quietLogger{}
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	return db, nil
}

// quietLogger drops the driver's log lines about connections refused
// while the server starts.
type quietLogger struct{}

// Print discards its arguments.
func (quietLogger) Print(...any) {}

// createAccount creates the test database and its user.
func (m *MariaDB) createAccount() error {
	stmts := fmt.Sprintf(`CREATE DATABASE %[1]s;
CREATE USER '%[2]s'@'127.0.0.1' IDENTIFIED BY '%[3]s';
CREATE USER '%[2]s'@'localhost' IDENTIFIED BY '%[3]s';
GRANT ALL ON %[1]s.* TO '%[2]s'@'127.0.0.1';
GRANT ALL ON %[1]s.* TO '%[2]s'@'localhost';`, m.DBName, m.User, m.Password)
	return m.exec(stmts)
}

// exec runs SQL as root, in no particular database.
func (m *MariaDB) exec(stmts string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.admin.ExecContext(ctx, stmts); err != nil {
		return fmt.Errorf("mariadb exec: %w", err)
	}
	return nil
}

// Exec runs one or more SQL statements as root in the test database.
func (m *MariaDB) Exec(stmts string) error {
	return m.ExecIn(m.DBName, stmts)
}

// ExecIn runs one or more SQL statements as root in database dbname.
func (m *MariaDB) ExecIn(dbname, stmts string) error {
	return m.exec("USE `" + dbname + "`;\n" + stmts)
}

// Stop shuts the server down and waits for it; later calls do nothing.
func (m *MariaDB) Stop() error {
	m.stopOnce.Do(func() {
		if m.admin != nil {
			m.admin.Close()
		}
		m.stopErr = m.proc.stop(syscall.SIGTERM)
	})
	return m.stopErr
}
