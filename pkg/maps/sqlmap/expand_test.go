package sqlmap

import "testing"

func mustTemplate(t *testing.T, s string) template {
	t.Helper()
	tpl, err := parseTemplate(s)
	if err != nil {
		t.Fatalf("parseTemplate(%q): %v", s, err)
	}
	return tpl
}

func TestExpandQuery(t *testing.T) {
	tests := []struct {
		tpl, key, want string
		ok             bool
	}{
		{"k='%s'", "user@mail.example.com", "k='user@mail.example.com'", true},
		{"%S|%U|%D", "user@mail.example.com", "user@mail.example.com|user|mail.example.com", true},
		{"u='%u' d='%d'", "user@mail.example.com", "u='user' d='mail.example.com'", true},
		{"%1 %2 %3", "user@mail.example.com", "com example mail", true},
		{"%4", "user@mail.example.com", "", false},         // too few labels
		{"%1", "example.com", "", false},                   // unqualified
		{"%1", "@example.com", "com", true},                // domain-only key has a domain
		{"u='%u'", "user", "u='user'", true},               // %u of a bare key is the key
		{"u='%u'", "@example.com", "", false},              // empty local part
		{"d='%d'", "user", "", false},                      // no domain
		{"d='%d'", "user@", "", false},                     // empty domain
		{"d='%d'", "a@b@c.example", "d='c.example'", true}, // last @ splits
		{"u='%u'", "a@b@c.example", "u='a@b'", true},
		{"100%% of '%s'", "x", "100% of 'x'", true},
		{"constant", "x", "constant", true},
		{"k='%s'", "", "", false}, // empty key: no query
		{"k='%s'", "o'neil", "k='o''neil'", true},
	}
	for _, tc := range tests {
		got, ok := expandQuery(mustTemplate(t, tc.tpl), tc.key, quoteSingle)
		if got != tc.want || ok != tc.ok {
			t.Errorf("expandQuery(%q, %q) = %q, %v; want %q, %v", tc.tpl, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestExpandResult(t *testing.T) {
	tests := []struct {
		tpl, value, key, want string
		ok                    bool
	}{
		{"%s", "a@b.example", "k@x.example", "a@b.example", true},
		{"smtp:[%s]", "mx.example", "k", "smtp:[mx.example]", true},
		{"%u", "a@b.example", "k", "a", true},
		{"%u", "plain", "k", "plain", true},
		{"%u", "@b.example", "k", "", false}, // empty local part: skipped
		{"%d", "a@b.example", "k", "b.example", true},
		{"%d", "plain", "k", "", false}, // unqualified: skipped
		{"%s", "", "k", "", false},      // empty value: skipped
		{"%s for %S (%U at %D, %1)", "v", "k@x.example", "v for k@x.example (k at x.example, example)", true},
		{"'%s'", "o'neil", "k", "'o'neil'", true}, // results are not quoted
	}
	for _, tc := range tests {
		got, ok := expandResult(mustTemplate(t, tc.tpl), tc.value, tc.key)
		if got != tc.want || ok != tc.ok {
			t.Errorf("expandResult(%q, %q, %q) = %q, %v; want %q, %v", tc.tpl, tc.value, tc.key, got, ok, tc.want, tc.ok)
		}
	}
}

func TestResultUsable(t *testing.T) {
	tests := []struct {
		tpl, key string
		want     bool
	}{
		{"%s %u %d", "plain", true}, // value expansions do not need the key
		{"%D", "plain", false},
		{"%D", "u@d.example", true},
		{"%U", "@d.example", false},
		{"%2", "u@d.example", true},
		{"%3", "u@d.example", false},
	}
	for _, tc := range tests {
		if got := resultUsable(mustTemplate(t, tc.tpl), tc.key); got != tc.want {
			t.Errorf("resultUsable(%q, %q) = %v, want %v", tc.tpl, tc.key, got, tc.want)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct {
		in, mysql, single string
	}{
		{"plain@example.com", "plain@example.com", "plain@example.com"},
		{"o'neil", `o\'neil`, "o''neil"},
		{`back\slash`, `back\\slash`, `back\slash`},
		{`"dq"`, `\"dq\"`, `"dq"`},
		{"nl\ncr\r", `nl\ncr\r`, "nl\ncr\r"},
		{"nul\x00ctlz\x1a", `nul\0ctlz\Z`, "nul\x00ctlz\x1a"},
		{"' OR '1'='1", `\' OR \'1\'=\'1`, "'' OR ''1''=''1"},
	}
	for _, tc := range tests {
		if got := quoteMySQL(tc.in); got != tc.mysql {
			t.Errorf("quoteMySQL(%q) = %q, want %q", tc.in, got, tc.mysql)
		}
		if got := quoteSingle(tc.in); got != tc.single {
			t.Errorf("quoteSingle(%q) = %q, want %q", tc.in, got, tc.single)
		}
	}
}
