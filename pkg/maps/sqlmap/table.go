// Package sqlmap implements Postfix's mysql:, pgsql: and sqlite: lookup
// tables: a query template from a ".cf" file is expanded with the lookup
// key, run against the database, and the result values are formatted and
// joined with commas, as described in mysql_table(5), pgsql_table(5) and
// sqlite_table(5) of Postfix 3.7.
//
// As in Postfix: keys are folded to lower case (Options.NoFold keeps
// them); a key that is empty, not valid UTF-8, outside the domain list,
// or lacking a part that the query or result_format needs is not found
// without any query; values are joined with "," (no space); NULL and
// empty values are skipped; hosts are tried UNIX sockets first, then TCP
// in random order, and a host that fails is skipped for retry_interval.
//
// Differences from Postfix: TLS to MySQL (tls_* parameters) and MySQL
// option files are not supported and are reported as errors; domain lists
// may only name domains (no files or lookup tables); unknown parameters
// are errors rather than silently ignored.
package sqlmap

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// Options changes how a table is opened.
type Options struct {
	// NoFold keeps lookup keys as given. By default keys are folded to
	// lower case, as every Postfix daemon and "postmap -q" do for these
	// tables (Postfix's DICT_FLAG_FOLD_FIX; "postmap -f" turns it off).
	NoFold bool
}

// Table is an open SQL lookup table. It is safe for concurrent use.
type Table struct {
	name  string
	cfg   *Config
	quote func(string) string
	fold  bool
	retry time.Duration // how long a failed host is skipped

	mu    sync.Mutex
	hosts []*host
}

// Open opens the SQL lookup table of type typ ("mysql", "pgsql" or
// "sqlite") configured by the file at path. Keys are folded to lower case.
func Open(typ, path string) (*Table, error) {
	return OpenWith(typ, path, Options{})
}

// OpenWith is Open with options.
func OpenWith(typ, path string, opt Options) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s:%s: %w", typ, path, err)
	}
	defer f.Close()
	cfg, err := ParseConfig(path, f)
	if err != nil {
		return nil, err
	}
	return openConfig(typ, path, cfg, opt)
}

// openConfig opens a table from a parsed configuration.
func openConfig(typ, path string, cfg *Config, opt Options) (*Table, error) {
	t := &Table{name: typ + ":" + path, cfg: cfg, fold: !opt.NoFold}
	switch typ {
	case "mysql":
		t.quote = quoteMySQL
	case "pgsql", "sqlite":
		t.quote = quoteSingle
	default:
		return nil, fmt.Errorf("open %s: unsupported SQL table type %q", t.name, typ)
	}
	if err := cfg.check(typ); err != nil {
		return nil, err
	}
	if err := cfg.checkDomains(); err != nil {
		return nil, err
	}
	retry, _ := cfg.intParam("retry_interval", 60)
	t.retry = time.Duration(retry) * time.Second
	if err := t.openHosts(typ); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// openHosts creates a pool per configured host; an SQLite table has one.
func (t *Table) openHosts(typ string) error {
	if typ == "sqlite" {
		h, err := openSQLite(t.cfg.DBPath)
		if err != nil {
			return fmt.Errorf("open %s: %w", t.name, err)
		}
		t.hosts = []*host{h}
		return nil
	}
	specs := t.cfg.Hosts
	if len(specs) == 0 {
		specs = []string{"localhost"} // Postfix's default
	}
	for _, spec := range specs {
		h, err := openHost(typ, spec, t.cfg)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", t.cfg.File, t.cfg.params["hosts"].line, err)
		}
		t.hosts = append(t.hosts, h)
	}
	return nil
}

// checkDomains rejects domain list entries other than domain names.
func (c *Config) checkDomains() error {
	for _, d := range c.Domains {
		if strings.ContainsAny(d, "/:") {
			return c.errorf("domain", "domain %q: files and lookup tables in the domain list are not supported", d)
		}
	}
	return nil
}

// Name returns the table's "type:name", e.g. "mysql:/etc/tern/x.cf".
func (t *Table) Name() string { return t.name }

// Close closes every connection pool.
func (t *Table) Close() error {
	var first error
	for _, h := range t.hosts {
		if err := h.db.Close(); err != nil && first == nil {
			first = fmt.Errorf("close %s: %w", t.name, err)
		}
	}
	return first
}

// Lookup runs the query for key. found is false when the query returns
// no non-empty value, and also without any query when the key does not
// fit the configuration: not in the domain list, lacking a part the query
// or result_format needs, not valid UTF-8. err is set when no database
// server answered, the query failed, or the expansion_limit was exceeded;
// callers treat it as a temporary failure.
func (t *Table) Lookup(key string) (value string, found bool, err error) {
	if t.fold {
		key = strings.ToLower(key)
	}
	if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return "", false, nil
	}
	if !t.domainAllowed(key) || !resultUsable(t.cfg.result, key) {
		return "", false, nil
	}
	query, ok := expandQuery(t.cfg.query, key, t.quote)
	if !ok {
		return "", false, nil
	}
	rows, err := t.run(query)
	if err != nil {
		return "", false, fmt.Errorf("%s: lookup %q: %w", t.name, key, err)
	}
	value, err = t.format(rows, key)
	if err != nil {
		return "", false, fmt.Errorf("%s: lookup %q: %w", t.name, key, err)
	}
	return value, value != "", nil
}

// domainAllowed applies the domain parameter: when set, only keys of the
// form user@domain with a non-empty user and a listed domain are searched.
func (t *Table) domainAllowed(key string) bool {
	if len(t.cfg.Domains) == 0 {
		return true
	}
	at := strings.LastIndexByte(key, '@')
	if at <= 0 {
		return false
	}
	domain := key[at+1:]
	for _, d := range t.cfg.Domains {
		neg := strings.HasPrefix(d, "!")
		if strings.EqualFold(strings.TrimPrefix(d, "!"), domain) {
			return !neg
		}
	}
	return false
}

// format applies result_format to every non-NULL column of every row and
// joins the results with commas, as Postfix does.
func (t *Table) format(rows [][]sql.NullString, key string) (string, error) {
	var (
		out []string
		n   int
	)
	for _, row := range rows {
		for _, col := range row {
			if !col.Valid {
				continue
			}
			v, ok := expandResult(t.cfg.result, col.String, key)
			if !ok {
				continue
			}
			n++
			if t.cfg.ExpansionLimit > 0 && n > t.cfg.ExpansionLimit {
				return "", fmt.Errorf("expansion limit %d exceeded", t.cfg.ExpansionLimit)
			}
			out = append(out, v)
		}
	}
	return strings.Join(out, ","), nil
}

// run sends query to the hosts in Postfix's order (UNIX-domain sockets
// first, then TCP hosts, each group in random order) until one answers.
// A host that cannot be reached is skipped for retry_interval. An error
// reported by a server (bad SQL, no such table) is returned at once.
func (t *Table) run(query string) ([][]sql.NullString, error) {
	var lastErr error
	for _, h := range t.candidates() {
		rows, err := queryHost(h, query)
		if err == nil {
			return rows, nil
		}
		if h.file || isServerError(err) {
			return nil, err
		}
		t.markDown(h)
		lastErr = fmt.Errorf("host %s: %w", h.spec, err)
	}
	if lastErr == nil {
		lastErr = errors.New("no database server available (all failed within retry_interval)")
	}
	return nil, lastErr
}

// candidates returns the hosts to try, in order.
func (t *Table) candidates() []*host {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	var unix, inet []*host
	for _, h := range t.hosts {
		switch {
		case now.Before(h.downTil):
		case h.unix:
			unix = append(unix, h)
		default:
			inet = append(inet, h)
		}
	}
	rand.Shuffle(len(unix), func(i, j int) { unix[i], unix[j] = unix[j], unix[i] })
	rand.Shuffle(len(inet), func(i, j int) { inet[i], inet[j] = inet[j], inet[i] })
	return append(unix, inet...)
}

// markDown makes the table skip h for retry_interval.
func (t *Table) markDown(h *host) {
	t.mu.Lock()
	defer t.mu.Unlock()
	h.downTil = time.Now().Add(t.retry)
}

// queryHost runs query on one host and returns every row.
func queryHost(h *host, query string) ([][]sql.NullString, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	rows, err := h.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out [][]sql.NullString
	for rows.Next() {
		row := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// isServerError reports whether err came from a server that answered:
// trying another host or marking this one down would not help.
func isServerError(err error) bool {
	var (
		my *mysql.MySQLError
		pg *pgconn.PgError
	)
	return errors.As(err, &my) || errors.As(err, &pg)
}
