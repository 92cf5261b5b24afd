package sqlmap

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		input string
		check func(*Config) string // returns a complaint, or ""
		err   string               // wanted error substring
	}{
		{
			name: "reference file",
			input: "user = mailuser\npassword = mailpassword\nhosts = 127.0.0.1\n" +
				"dbname = mailserver\nquery = SELECT 1 FROM virtual_domains WHERE name='%s'\n",
			check: func(c *Config) string {
				want := Config{Hosts: []string{"127.0.0.1"}, User: "mailuser", Password: "mailpassword",
					DBName: "mailserver", Query: "SELECT 1 FROM virtual_domains WHERE name='%s'"}
				got := Config{Hosts: c.Hosts, User: c.User, Password: c.Password, DBName: c.DBName, Query: c.Query}
				if !reflect.DeepEqual(got, want) {
					return "got " + strings.Join([]string{c.User, c.Password, c.DBName, c.Query}, "|")
				}
				if c.ResultFormat != "%s" || c.ExpansionLimit != 0 || len(c.Domains) != 0 {
					return "defaults wrong"
				}
				return ""
			},
		},
		{
			name:  "comments blanks continuation",
			input: "# comment\n\n  # indented comment\nquery = SELECT a\n  FROM t\n\tWHERE k='%s'\nhosts = a, b:3307\n inet:c:1 unix:/s\n",
			check: func(c *Config) string {
				if c.Query != "SELECT a  FROM t\tWHERE k='%s'" {
					return "query " + c.Query
				}
				if !reflect.DeepEqual(c.Hosts, []string{"a", "b:3307", "inet:c:1", "unix:/s"}) {
					return "hosts " + strings.Join(c.Hosts, "|")
				}
				return ""
			},
		},
		{
			name:  "later value wins, inline hash kept",
			input: "query = SELECT 1\nquery = SELECT 2 # not a comment\n",
			check: func(c *Config) string {
				if c.Query != "SELECT 2 # not a comment" {
					return "query " + c.Query
				}
				return ""
			},
		},
		{
			name:  "domain result_format expansion_limit",
			input: "query = SELECT x FROM t WHERE u='%u' AND d='%d'\ndomain = example.com, !bad.example.com\nresult_format = smtp:[%s]\nexpansion_limit = 3\n",
			check: func(c *Config) string {
				if !reflect.DeepEqual(c.Domains, []string{"example.com", "!bad.example.com"}) || c.ResultFormat != "smtp:[%s]" || c.ExpansionLimit != 3 {
					return "got " + strings.Join(c.Domains, "|") + " " + c.ResultFormat
				}
				return ""
			},
		},
		{
			name:  "legacy fields",
			input: "select_field = goto\ntable = alias\nwhere_field = address\nadditional_conditions = AND active = '1'\n",
			check: func(c *Config) string {
				if c.Query != "SELECT goto FROM alias WHERE address='%s' AND active = '1'" {
					return "query " + c.Query
				}
				return ""
			},
		},
		{
			name:  "legacy select_function",
			input: "select_function = lookup_alias\n",
			check: func(c *Config) string {
				if c.Query != "SELECT lookup_alias('%s')" {
					return "query " + c.Query
				}
				return ""
			},
		},
		{name: "unknown parameter", input: "query = SELECT 1\n\nbogus = 1\n", err: "t.cf:3: unknown parameter \"bogus\""},
		{name: "missing equals", input: "query = SELECT 1\nhosts localhost\n", err: "t.cf:2: missing '='"},
		{name: "missing name", input: "= x\n", err: "t.cf:1: missing parameter name"},
		{name: "leading continuation", input: "  query = SELECT 1\n", err: "t.cf:1: logical line must not start with whitespace"},
		{name: "bad template", input: "hosts = x\nquery = SELECT '%x'\n", err: "t.cf:2: invalid query template"},
		{name: "template ends in percent", input: "query = SELECT '%s' %\n", err: "t.cf:1: invalid query template"},
		{name: "bad result_format", input: "query = SELECT 1\n\nresult_format = %q\n", err: "t.cf:3: invalid result_format"},
		{name: "bad expansion_limit", input: "query = SELECT 1\nexpansion_limit = many\n", err: "t.cf:2: bad numerical parameter value"},
		{name: "no query", input: "hosts = localhost\n", err: "missing query parameter"},
		{name: "empty query", input: "query =\n", err: "t.cf:1: query parameter is empty"},
		{name: "legacy incomplete", input: "select_field = a\ntable = t\n", err: "where_field"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig("t.cf", strings.NewReader(tc.input))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tc.check(c); msg != "" {
				t.Error(msg)
			}
		})
	}
}

func TestConfigCheck(t *testing.T) {
	tests := []struct {
		typ, input, err string
	}{
		{"mysql", "hosts = a\nquery = SELECT 1\n", ""},
		{"pgsql", "hosts = a\nquery = SELECT 1\nselect_function = f\n", ""},
		{"sqlite", "dbpath = /x.db\nquery = SELECT 1\n", ""},
		{"sqlite", "query = SELECT 1\n", "missing dbpath"},
		{"sqlite", "dbpath = /x.db\nquery = SELECT 1\nhosts = a\n", "t.cf:3: unknown parameter \"hosts\" for sqlite table"},
		{"mysql", "dbpath = /x.db\nquery = SELECT 1\n", "t.cf:1: unknown parameter \"dbpath\" for mysql table"},
		{"mysql", "query = SELECT 1\ntls_CAfile = /ca.pem\n", "t.cf:2: tls_CAfile: TLS connections"},
		{"mysql", "query = SELECT 1\ntls_verify_cert =\n", ""},
		{"mysql", "query = SELECT 1\noption_file = /etc/my.cnf\n", "t.cf:2: option_file"},
		{"pgsql", "query = SELECT 1\ncharset = latin1\n", "unknown parameter \"charset\" for pgsql"},
	}
	for _, tc := range tests {
		c, err := ParseConfig("t.cf", strings.NewReader(tc.input))
		if err != nil {
			t.Fatalf("%s %q: %v", tc.typ, tc.input, err)
		}
		err = c.check(tc.typ)
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s %q: check = %v, want %q", tc.typ, tc.input, err, tc.err)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		spec string
		want endpoint
		bad  bool
	}{
		{spec: "db.example", want: endpoint{addr: "db.example"}},
		{spec: "db.example:3307", want: endpoint{addr: "db.example", port: "3307"}},
		{spec: "inet:10.0.0.1:5433", want: endpoint{addr: "10.0.0.1", port: "5433"}},
		{spec: "inet:[::1]:5433", want: endpoint{addr: "::1", port: "5433"}},
		{spec: "inet:127.0.0.1", want: endpoint{addr: "127.0.0.1"}},
		{spec: "unix:/run/mysqld/mysqld.sock", want: endpoint{unix: true, addr: "/run/mysqld/mysqld.sock"}},
		{spec: "unix:", bad: true},
		{spec: "inet:", bad: true},
		{spec: "host:0", bad: true},
		{spec: "host:port", bad: true},
	}
	for _, tc := range tests {
		got, err := parseEndpoint(tc.spec)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.spec)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q: got %+v, %v; want %+v", tc.spec, got, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	seeds := []string{
		"user = mailuser\npassword = mailpassword\nhosts = 127.0.0.1\ndbname = mailserver\nquery = SELECT destination FROM virtual_aliases WHERE source='%s'\n",
		"query = SELECT a\n  FROM t WHERE u='%u' AND d='%d' AND tld='%1'\nresult_format = smtp:[%s] %S %U %D %%\n",
		"# c\n\ndomain = a.example, !b.example\nexpansion_limit = 1\nquery = SELECT 1\n",
		"select_field = goto\ntable = alias\nwhere_field = address\n",
		"query = %\n", "  x = y\n", "=\n", "bogus = 1\n", "query = SELECT '%s'\r\nhosts = unix:/s\r\n",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		c, err := ParseConfig("f.cf", strings.NewReader(input))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.cf") && !strings.HasPrefix(err.Error(), "read f.cf") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		if c.Query == "" {
			t.Fatal("parsed config without query")
		}
		for _, typ := range []string{"mysql", "pgsql", "sqlite"} {
			_ = c.check(typ)
		}
		for _, key := range []string{"user@mail.example.com", "@example.com", "user", "o'neil@x.y"} {
			q, ok := expandQuery(c.query, key, quoteSingle)
			if ok && strings.Count(q, "'")%2 != strings.Count(c.Query, "'")%2 {
				t.Fatalf("quoting changed quote parity: %q -> %q", c.Query, q)
			}
			if resultUsable(c.result, key) {
				expandResult(c.result, "v@d.example", key)
			}
		}
	})
}
