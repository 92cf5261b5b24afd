package sqlmap

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Config is a parsed Postfix SQL client configuration file, as described
// in mysql_table(5), pgsql_table(5) and sqlite_table(5). ParseConfig fills
// it without knowing the table type; Open checks the parameters that only
// some types accept.
type Config struct {
	// File is the name the configuration was read from, used in errors.
	File string
	// Hosts lists the database servers ("host", "host:port",
	// "inet:host:port", "unix:/path", or for pgsql a postgresql:// URI).
	Hosts []string
	// User, Password and DBName are the login credentials and database.
	User, Password, DBName string
	// DBPath is the SQLite database file.
	DBPath string
	// Query is the query template. When the file has no query parameter
	// it is built from the legacy select_field, table, where_field and
	// additional_conditions (or select_function) parameters.
	Query string
	// ResultFormat is the template applied to each result value.
	ResultFormat string
	// Domains restricts lookups to user@domain keys in these domains.
	// Entries starting with "!" exclude a domain.
	Domains []string
	// ExpansionLimit caps the number of result values (0: no limit).
	ExpansionLimit int
	// Charset is the MySQL connection character set.
	Charset string
	// Encoding is the PostgreSQL client encoding.
	Encoding string

	query  template
	result template
	params map[string]param
}

// param is one parameter as written, with the line it started on.
type param struct {
	value string
	line  int
}

// paramTypes lists every parameter name and the table types accepting it.
var paramTypes = map[string]string{
	"hosts":                 "mysql pgsql",
	"user":                  "mysql pgsql",
	"password":              "mysql pgsql",
	"dbname":                "mysql pgsql",
	"dbpath":                "sqlite",
	"query":                 "mysql pgsql sqlite",
	"result_format":         "mysql pgsql sqlite",
	"domain":                "mysql pgsql sqlite",
	"expansion_limit":       "mysql pgsql sqlite",
	"select_field":          "mysql pgsql sqlite",
	"table":                 "mysql pgsql sqlite",
	"where_field":           "mysql pgsql sqlite",
	"additional_conditions": "mysql pgsql sqlite",
	"select_function":       "pgsql",
	"charset":               "mysql",
	"encoding":              "pgsql",
	"idle_interval":         "mysql pgsql",
	"retry_interval":        "mysql pgsql",
	"require_result_set":    "mysql",
	"option_group":          "mysql",
	"option_file":           "mysql",
	"tls_cert_file":         "mysql",
	"tls_key_file":          "mysql",
	"tls_CAfile":            "mysql",
	"tls_CApath":            "mysql",
	"tls_ciphers":           "mysql",
	"tls_verify_cert":       "mysql",
}

// ParseConfig reads a configuration in main.cf syntax: "name = value"
// lines, "#" comment lines, blank lines, and lines starting with
// whitespace that continue the previous line. Errors name file and line.
func ParseConfig(file string, r io.Reader) (*Config, error) {
	params, err := readParams(file, r)
	if err != nil {
		return nil, err
	}
	c := &Config{File: file, params: params}
	if err := c.fill(); err != nil {
		return nil, err
	}
	return c, nil
}

// readParams splits the input into logical lines and name = value pairs.
// A parameter given twice keeps its last value, as in main.cf.
func readParams(file string, r io.Reader) (map[string]param, error) {
	params := map[string]param{}
	var (
		cur     strings.Builder
		curLine int
	)
	flush := func() error {
		if curLine == 0 {
			return nil
		}
		name, value, err := splitNameValue(cur.String())
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, curLine, err)
		}
		if _, ok := paramTypes[name]; !ok {
			return fmt.Errorf("%s:%d: unknown parameter %q", file, curLine, name)
		}
		params[name] = param{value: value, line: curLine}
		cur.Reset()
		curLine = 0
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			continue
		case trimmed == "":
			if err := flush(); err != nil {
				return nil, err
			}
		case line[0] == ' ' || line[0] == '\t':
			if curLine == 0 {
				return nil, fmt.Errorf("%s:%d: logical line must not start with whitespace", file, n)
			}
			cur.WriteString(line)
		default:
			if err := flush(); err != nil {
				return nil, err
			}
			cur.WriteString(line)
			curLine = n
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return params, flush()
}

// splitNameValue splits "name = value" and trims both parts.
func splitNameValue(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if name == "" {
		return "", "", fmt.Errorf("missing parameter name")
	}
	if !ok {
		return "", "", fmt.Errorf("missing '=' after parameter name %q", name)
	}
	if strings.ContainsAny(name, " \t") {
		return "", "", fmt.Errorf("bad parameter name %q", name)
	}
	return name, strings.TrimSpace(value), nil
}

// value returns a parameter's value, or def when it is not set.
func (c *Config) value(name, def string) string {
	if p, ok := c.params[name]; ok {
		return p.value
	}
	return def
}

// errorf formats an error at the line of parameter name.
func (c *Config) errorf(name, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", c.File, c.params[name].line, fmt.Sprintf(format, args...))
}

// fill sets the typed fields from the raw parameters.
func (c *Config) fill() error {
	c.Hosts = splitList(c.value("hosts", ""))
	c.User = c.value("user", "")
	c.Password = c.value("password", "")
	c.DBName = c.value("dbname", "")
	c.DBPath = c.value("dbpath", "")
	c.Domains = splitList(c.value("domain", ""))
	c.Charset = c.value("charset", "utf8mb4")
	c.Encoding = c.value("encoding", "UTF8")
	c.ResultFormat = c.value("result_format", "%s")
	limit, err := c.intParam("expansion_limit", 0)
	if err != nil {
		return err
	}
	c.ExpansionLimit = limit
	for _, name := range []string{"idle_interval", "retry_interval"} {
		if _, err := c.intParam(name, 60); err != nil {
			return err
		}
	}
	if c.Query, err = c.buildQuery(); err != nil {
		return err
	}
	if c.query, err = parseTemplate(c.Query); err != nil {
		return c.errorf(c.queryParam(), "invalid query template %q: %v", c.Query, err)
	}
	if c.result, err = parseTemplate(c.ResultFormat); err != nil {
		return c.errorf("result_format", "invalid result_format template %q: %v", c.ResultFormat, err)
	}
	return nil
}

// intParam parses a non-negative integer parameter. Postfix time
// parameters may carry a unit suffix; "s" is accepted for seconds.
func (c *Config) intParam(name string, def int) (int, error) {
	s, ok := c.params[name]
	if !ok {
		return def, nil
	}
	v := strings.TrimSuffix(s.value, "s")
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, c.errorf(name, "bad numerical parameter value: %s = %s", name, s.value)
	}
	return n, nil
}

// queryParam names the parameter that errors about the query point at.
func (c *Config) queryParam() string {
	for _, name := range []string{"query", "select_function", "select_field", "table", "where_field"} {
		if _, ok := c.params[name]; ok {
			return name
		}
	}
	return "query"
}

// buildQuery returns the query parameter, or builds the query from the
// legacy parameters as Postfix does when query is not set.
func (c *Config) buildQuery() (string, error) {
	if q, ok := c.params["query"]; ok {
		if q.value == "" {
			return "", c.errorf("query", "query parameter is empty")
		}
		return q.value, nil
	}
	if fn := c.value("select_function", ""); fn != "" {
		return "SELECT " + fn + "('%s')", nil
	}
	fields := map[string]string{}
	for _, name := range []string{"select_field", "table", "where_field"} {
		fields[name] = c.value(name, "")
		if fields[name] == "" {
			return "", fmt.Errorf("%s: missing query parameter (or legacy %s parameter)", c.File, name)
		}
	}
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s='%%s'", fields["select_field"], fields["table"], fields["where_field"])
	if extra := c.value("additional_conditions", ""); extra != "" {
		q += " " + extra
	}
	return q, nil
}

// check verifies that every parameter set is valid for table type typ and
// that the type's required parameters are present.
func (c *Config) check(typ string) error {
	for name, p := range c.params {
		if !strings.Contains(" "+paramTypes[name]+" ", " "+typ+" ") {
			return fmt.Errorf("%s:%d: unknown parameter %q for %s table", c.File, p.line, name, typ)
		}
		if strings.HasPrefix(name, "tls_") && p.value != "" {
			return fmt.Errorf("%s:%d: %s: TLS connections to the database are not supported", c.File, p.line, name)
		}
		if name == "option_file" && p.value != "" {
			return fmt.Errorf("%s:%d: option_file: MySQL option files are not supported", c.File, p.line)
		}
	}
	if typ == "sqlite" && c.DBPath == "" {
		return fmt.Errorf("%s: missing dbpath parameter", c.File)
	}
	return nil
}

// splitList splits a Postfix list value at commas and whitespace.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}
