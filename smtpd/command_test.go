package smtpd

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseCommand(t *testing.T) {
	tests := []struct{ in, verb, arg string }{
		{"HELO x", "HELO", "x"},
		{"ehlo  client.example ", "EHLO", "client.example"},
		{"MAIL FROM:<a@b> SIZE=10", "MAIL", "FROM:<a@b> SIZE=10"},
		{"QUIT", "QUIT", ""},
		{"  noop", "NOOP", ""},
		{"RCPT\tTO:<a@b>", "RCPT", "TO:<a@b>"},
		{"", "", ""},
	}
	for _, tt := range tests {
		got := parseCommand(tt.in)
		if got.verb != tt.verb || got.arg != tt.arg {
			t.Errorf("parseCommand(%q) = %q %q, want %q %q", tt.in, got.verb, got.arg, tt.verb, tt.arg)
		}
	}
}

func TestPathArg(t *testing.T) {
	tests := []struct {
		arg, prefix, addr string
		params            []string
		ok                bool
	}{
		{"FROM:<a@b>", "FROM:", "a@b", nil, true},
		{"from: <a@b> SIZE=1 BODY=8BITMIME", "FROM:", "a@b", []string{"SIZE=1", "BODY=8BITMIME"}, true},
		{"FROM:<>", "FROM:", "", nil, true},
		{"TO:<\"x >y\"@b> NOTIFY=NEVER", "TO:", "\"x >y\"@b", []string{"NOTIFY=NEVER"}, true},
		{"TO:a@b", "TO:", "a@b", nil, true},
		{"TO:<a@b", "TO:", "", nil, false},
		{"FROM <a@b>", "FROM:", "", nil, false},
		{"TO:", "TO:", "", nil, false},
	}
	for _, tt := range tests {
		addr, params, ok := pathArg(tt.arg, tt.prefix)
		if ok != tt.ok || addr != tt.addr || len(params) != len(tt.params) {
			t.Errorf("pathArg(%q) = %q %v %v", tt.arg, addr, params, ok)
			continue
		}
		for i, p := range params {
			s := p.key
			if p.has {
				s += "=" + p.value
			}
			if s != tt.params[i] {
				t.Errorf("pathArg(%q) param %d = %q, want %q", tt.arg, i, s, tt.params[i])
			}
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in      string
		utf8    bool
		want    string
		problem int
	}{
		{"user@example.tst", false, "user@example.tst", addrOK},
		{"@relay.tst,@other.tst:user@example.tst", false, "user@example.tst", addrOK},
		{"@relay.tst", false, "", addrBadSyntax},
		{"\"john doe\"@example.tst", false, "\"john doe\"@example.tst", addrOK},
		{"\"john\"@example.tst", false, "john@example.tst", addrOK},
		{"\"a\\\"b\"@example.tst", false, "\"a\\\"b\"@example.tst", addrOK},
		{"a b@example.tst", false, "", addrBadSyntax},
		{"a@exa mple.tst", false, "", addrBadSyntax},
		{"a\x00b@example.tst", false, "", addrBadSyntax},
		{"a\x7f@example.tst", false, "", addrBadSyntax},
		{"\xff@example.tst", true, "", addrBadSyntax},
		{"jörg@example.tst", false, "", addrNeedsUTF8},
		{"jörg@example.tst", true, "jörg@example.tst", addrOK},
		{"postmaster", false, "postmaster", addrOK},
		{"user%elsewhere.tst@example.tst", false, "user%elsewhere.tst@example.tst", addrOK},
		{"", false, "", addrOK},
	}
	for _, tt := range tests {
		got, problem := cleanPath(tt.in, tt.utf8)
		if got != tt.want || problem != tt.problem {
			t.Errorf("cleanPath(%q) = %q %d, want %q %d", tt.in, got, problem, tt.want, tt.problem)
		}
	}
}

func TestDecodeXtext(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"abc", "abc", true},
		{"a+2Bb", "a+b", true},
		{"u+40example.tst", "u@example.tst", true},
		{"a+2b", "", false},
		{"a+2", "", false},
		{"a=b", "", false},
		{"a b", "", false},
	}
	for _, tt := range tests {
		got, ok := decodeXtext(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("decodeXtext(%q) = %q %v", tt.in, got, ok)
		}
	}
}

func TestDecodeUTF8AddrXtext(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"jörg@example.tst", "jörg@example.tst", true},
		{"j\\x{F6}rg@example.tst", "jörg@example.tst", true},
		{"a\\x{1F600}b", "a\U0001F600b", true},
		{"a+2Bb", "", false},
		{"a\\x{F6", "", false},
		{"a\\x{ZZ}", "", false},
		{"a\\y", "", false},
		{"a b", "", false},
		{"\xff", "", false},
	}
	for _, tt := range tests {
		got, ok := decodeUTF8AddrXtext(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("decodeUTF8AddrXtext(%q) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCommandCounts(t *testing.T) {
	var c commandCounts
	c.add("ehlo", true)
	c.add("mail", true)
	c.add("rcpt", false)
	c.add("rcpt", true)
	c.add("quit", true)
	if got, want := c.String(), "ehlo=1 mail=1 rcpt=1/2 quit=1 commands=4/5"; got != want {
		t.Errorf("counts %q, want %q", got, want)
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"MAIL FROM:<a@b> SIZE=1", "RCPT TO:<\"x\\\">\"@b> NOTIFY=NEVER ORCPT=rfc822;a+40b", "EHLO x", "BDAT 10 LAST", "\t\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd := parseCommand(line)
		if cmd.verb != strings.ToUpper(cmd.verb) {
			t.Fatalf("verb %q not upper case", cmd.verb)
		}
		for _, prefix := range []string{"FROM:", "TO:"} {
			addr, _, ok := pathArg(cmd.arg, prefix)
			if !ok {
				continue
			}
			clean, problem := cleanPath(addr, true)
			if problem == addrOK && (!utf8.ValidString(clean) || strings.ContainsAny(clean, "\r\n\x00")) {
				t.Fatalf("cleanPath(%q) = %q accepted", addr, clean)
			}
		}
		_, _ = decodeXtext(cmd.arg)
		_, _ = decodeUTF8AddrXtext(cmd.arg)
		_, _ = parseNotify(cmd.arg)
	})
}
