package milters

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/config"
)

// macroStages pairs Postfix's milter_*_macros with the protocol stage
// whose macros they list. Unknown commands are not passed to milters, so
// milter_unknown_command_macros has no stage.
var macroStages = []struct {
	param string
	stage milter.MacroStage
}{
	{"milter_connect_macros", milter.StageConnect},
	{"milter_helo_macros", milter.StageHelo},
	{"milter_mail_macros", milter.StageMail},
	{"milter_rcpt_macros", milter.StageRcpt},
	{"milter_data_macros", milter.StageData},
	{"milter_end_of_header_macros", milter.StageEOH},
	{"milter_end_of_data_macros", milter.StageEOM},
}

// macroOptions returns the client options that send, at each stage, the
// macros main.cf lists for it. A milter that asks for its own lists
// during option negotiation gets those instead, as with Postfix.
func macroOptions(cfg *config.Config) []milter.Option {
	var opts []milter.Option
	for _, s := range macroStages {
		opts = append(opts, milter.WithMacroRequest(s.stage, MacroNames(cfg.Get(s.param))))
	}
	return opts
}

// MacroNames splits a milter_*_macros value into macro names. Names are
// separated by space or comma; a name of more than one character is
// braced as the protocol spells it ("mail_addr" is "{mail_addr}").
func MacroNames(value string) []milter.MacroName {
	fields := strings.FieldsFunc(value, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
	names := make([]milter.MacroName, 0, len(fields))
	for _, f := range fields {
		names = append(names, braced(f))
	}
	return names
}

// braced returns a macro name in the form milters see it.
func braced(name string) string {
	if len(name) > 1 && !strings.HasPrefix(name, "{") {
		return "{" + name + "}"
	}
	return name
}

// ParseMacroDefaults reads milter_macro_defaults: name=value or
// {name}=value pairs separated by space or comma; a pair whose value
// holds space or a comma is enclosed in { } (spaces after "{", around "="
// and before "}" are ignored there).
func ParseMacroDefaults(value string) (map[milter.MacroName]string, error) {
	out := map[milter.MacroName]string{}
	rest := strings.TrimSpace(value)
	for rest != "" {
		var pair string
		if strings.HasPrefix(rest, "{") && !isBracedName(rest) {
			end := closingBrace(rest)
			if end < 0 {
				return nil, fmt.Errorf("milter_macro_defaults: %q: missing }", rest)
			}
			pair, rest = rest[1:end], rest[end+1:]
		} else {
			end := strings.IndexFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
			if end < 0 {
				end = len(rest)
			}
			pair, rest = rest[:end], rest[end:]
		}
		rest = strings.TrimLeftFunc(rest, func(r rune) bool { return unicode.IsSpace(r) || r == ',' })
		name, val, ok := strings.Cut(pair, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || name == "{}" {
			return nil, fmt.Errorf("milter_macro_defaults: %q: need name=value", pair)
		}
		out[braced(name)] = strings.TrimSpace(val)
	}
	return out, nil
}

// closingBrace returns the index of the "}" that closes the "{" at the
// start of s, -1 for none.
func closingBrace(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return i
			}
		}
	}
	return -1
}

// isBracedName reports whether s starts with a braced macro name followed
// by "=" ("{auth_type}=..."), rather than a braced pair.
func isBracedName(s string) bool {
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return false
	}
	name := s[1:end]
	return name != "" && !strings.ContainsAny(name, "= \t,") && strings.HasPrefix(s[end+1:], "=")
}

// defaulted gives a macro milter_macro_defaults' value when the session
// has none.
type defaulted struct {
	milter.Macros
	defaults map[milter.MacroName]string
}

// GetEx returns the session's value of name, else its default.
func (d defaulted) GetEx(name milter.MacroName) (string, bool) {
	if v, ok := d.Macros.GetEx(name); ok {
		return v, true
	}
	v, ok := d.defaults[name]
	return v, ok
}

// Get returns the session's value of name, else its default, else "".
func (d defaulted) Get(name milter.MacroName) string {
	v, _ := d.GetEx(name)
	return v
}

// withDefaults returns macros with m's defaults behind it.
func (m *Conf) withDefaults(macros milter.Macros) milter.Macros {
	if len(m.macroDefaults) == 0 || macros == nil {
		return macros
	}
	return defaulted{Macros: macros, defaults: m.macroDefaults}
}
