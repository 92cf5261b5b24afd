package sasl

// The line format of Dovecot's authentication protocol (version 1.x):
// LF-terminated lines of TAB-separated fields, the first naming the
// command. Optional parameters are "name=value" or a bare "name". Fields
// use Dovecot's tab-escaping: \001 followed by '0' (NUL), '1' (\001),
// 't' (TAB), 'r' (CR) or 'n' (LF); before any other byte it is dropped.

import (
	"errors"
	"fmt"
	"strings"
)

// Protocol version spoken by this client.
const (
	dovecotMajor = 1
	dovecotMinor = 1
)

// dovecotLine is one parsed line from the auth server.
type dovecotLine struct {
	cmd  string   // command name, e.g. "MECH", "OK"
	args []string // unescaped fields after the command
}

// errGarbage marks a line that is not a protocol line at all.
var errGarbage = errors.New("not a protocol line")

// parseDovecotLine parses one line without its LF (a trailing CR is
// tolerated). The command must be a non-empty word of upper-case letters,
// digits, '-' or '_'; otherwise the error wraps errGarbage.
func parseDovecotLine(line string) (dovecotLine, error) {
	line = strings.TrimSuffix(line, "\r")
	fields := strings.Split(line, "\t")
	cmd := fields[0]
	if cmd == "" || strings.IndexFunc(cmd, func(r rune) bool {
		return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
	}) >= 0 {
		return dovecotLine{}, fmt.Errorf("dovecot: %w: %q", errGarbage, printable(line, 64))
	}
	args := fields[1:]
	for i, a := range args {
		args[i] = tabUnescape(a)
	}
	return dovecotLine{cmd: cmd, args: args}, nil
}

// tabUnescape undoes Dovecot's tab-escaping.
func tabUnescape(s string) string {
	if !strings.Contains(s, "\x01") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != 0x01 || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case '0':
			b.WriteByte(0)
		case '1':
			b.WriteByte(0x01)
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// tabEscape applies Dovecot's tab-escaping to a field we send.
func tabEscape(s string) string {
	if !strings.ContainsAny(s, "\x00\x01\t\r\n") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			b.WriteString("\x010")
		case 0x01:
			b.WriteString("\x011")
		case '\t':
			b.WriteString("\x01t")
		case '\r':
			b.WriteString("\x01r")
		case '\n':
			b.WriteString("\x01n")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// dovecotParams reads optional parameters: "name=value" fields and bare
// boolean names (with value ""). The first occurrence of a name wins.
func dovecotParams(args []string) map[string]string {
	p := make(map[string]string, len(args))
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		if _, seen := p[name]; !seen && name != "" {
			p[name] = value
		}
	}
	return p
}

// dovecotMech is one MECH line of the handshake.
type dovecotMech struct {
	name  string
	flags map[string]string // "plaintext", "private", ...
}

// parseMech reads the arguments of a MECH line. The name must be a SASL
// mechanism name (RFC 4422 section 3.1: 1-20 of A-Z, 0-9, '-', '_').
func parseMech(args []string) (dovecotMech, bool) {
	if len(args) == 0 || !validMechName(args[0]) {
		return dovecotMech{}, false
	}
	return dovecotMech{name: args[0], flags: dovecotParams(args[1:])}, true
}

// validMechName reports whether s is a SASL mechanism name, in either case.
func validMechName(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
