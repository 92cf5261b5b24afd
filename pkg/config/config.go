// Package config reads tern's main.cf and master.cf, which use Postfix's
// syntax, parameter names and defaults.
//
// main.cf holds "name = value" lines. A line that starts with whitespace
// continues the previous one; lines whose first non-blank character is '#'
// are comments (a '#' elsewhere is part of the value, as in Postfix). A
// later definition overrides an earlier one. Values may refer to other
// parameters with $name, ${name}, $(name), ${name?value}, ${name:value} and
// ${name?{value}:{value}}; Get expands them.
package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Dir returns flagValue if non-empty, else $MAIL_CONFIG if set, else
// DefaultDir.
func Dir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if env := os.Getenv("MAIL_CONFIG"); env != "" {
		return env
	}
	return DefaultDir
}

// setting is a value given in main.cf (line > 0) or by Set (line == 0).
type setting struct {
	value string
	line  int
}

// Config is a parsed main.cf: the values set there (or by Set) on top of
// the parameter table's defaults. A Config is not safe for concurrent
// modification; concurrent reads are fine.
type Config struct {
	file     string
	hostname string // system host name, for the myhostname default
	vals     map[string]setting
	// origin is the domain read from the file that myorigin names, as
	// Debian's "myorigin = /etc/mailname" (see readOrigin); "" when
	// myorigin is a domain.
	origin string
}

// Defaults returns a Config with every parameter at its default.
func Defaults() *Config {
	return &Config{hostname: systemHostname(), vals: map[string]setting{}}
}

// Load reads dir/main.cf. A missing main.cf means all defaults (not an
// error). Syntax errors and bad values return an *Error.
func Load(dir string) (*Config, error) {
	path := filepath.Join(dir, "main.cf")
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		c := Defaults()
		c.file = path
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	return Parse(path, f)
}

// Parse is Load from a reader; name is used as the file name in messages.
func Parse(name string, r io.Reader) (*Config, error) {
	lines, err := readLogicalLines(name, r)
	if err != nil {
		return nil, err
	}
	c := Defaults()
	c.file = name
	for _, l := range lines {
		key, value, err := splitDefinition(l.text)
		if err != nil {
			return nil, &Error{File: name, Line: l.line, Msg: err.Error()}
		}
		c.vals[key] = setting{value: value, line: l.line}
	}
	if err := c.readOrigin(); err != nil {
		return nil, &Error{File: name, Line: c.vals["myorigin"].line, Msg: err.Error()}
	}
	if err := c.validateAll(); err != nil {
		return nil, err
	}
	return c, nil
}

// readOrigin reads the domain of a myorigin that names a file, as
// Debian's Postfix does for the "myorigin = /etc/mailname" its installer
// writes: the file's first line. It is read once, when main.cf is, so
// that a daemon in a chroot or without privileges still has it.
func (c *Config) readOrigin() error {
	c.origin = ""
	v, err := c.expandValue("myorigin")
	if err != nil || !strings.HasPrefix(v, "/") {
		return nil // an expansion error is validate's to report
	}
	data, err := os.ReadFile(v)
	if err != nil {
		return fmt.Errorf("myorigin = %s: %w", v, err)
	}
	line, _, _ := strings.Cut(string(data), "\n")
	if line = strings.TrimSpace(line); line == "" || strings.ContainsAny(line, " \t/@") {
		return fmt.Errorf("myorigin = %s: the file's first line is not a domain: %q", v, line)
	}
	c.origin = line
	return nil
}

// splitDefinition splits "name = value" into its trimmed parts.
func splitDefinition(text string) (name, value string, err error) {
	i := strings.IndexByte(text, '=')
	if i < 0 {
		return "", "", errors.New("missing '=' after parameter name")
	}
	name = strings.TrimFunc(text[:i], isSpaceRune)
	value = strings.TrimFunc(text[i+1:], isSpaceRune)
	if name == "" {
		return "", "", errors.New("missing parameter name before '='")
	}
	if strings.IndexFunc(name, isSpaceRune) >= 0 {
		return "", "", fmt.Errorf("missing '=' after parameter name %q", strings.Fields(name)[0])
	}
	return name, value, nil
}

// File returns the path of the main.cf that was read ("" for Defaults).
func (c *Config) File() string { return c.file }

// Raw returns the unexpanded value of name and whether it was given in
// main.cf or by Set. For parameters not set it returns the default, which
// for myhostname, mydomain and mynetworks is computed. Unknown names that
// were never set return "", false.
func (c *Config) Raw(name string) (value string, set bool) {
	if s, ok := c.vals[name]; ok {
		return s.value, true
	}
	if isComputed(name) {
		v, _ := c.expandValue(name)
		return v, false
	}
	p, _ := Lookup(name)
	return p.Default, false
}

// Get returns the fully expanded value of name, or "" for an unknown name.
// Parameters that Postfix expands per recipient (forward_path,
// mailbox_command, luser_relay and a few more) are returned unexpanded.
// Expansion errors, which Load and Set already report, yield the part that
// could be expanded.
func (c *Config) Get(name string) string {
	if isRawParam(name) {
		v, _ := c.Raw(name)
		return v
	}
	v, _ := c.expandValue(name)
	return v
}

// Bool reports whether name is yes or true (case-insensitive).
func (c *Config) Bool(name string) bool {
	b, _ := parseBool(c.Get(name))
	return b
}

// Int returns name as an int; 0 if it is not a number.
func (c *Config) Int(name string) int {
	n, err := strconv.ParseInt(strings.TrimSpace(c.Get(name)), 10, strconv.IntSize)
	if err != nil {
		return 0
	}
	return int(n)
}

// Int64 returns name as an int64; 0 if it is not a number.
func (c *Config) Int64(name string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(c.Get(name)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// Duration returns a Postfix time value: a number with an optional unit
// (ms, s, m, h, d or w). Without a unit the parameter's own default unit
// from the table applies (seconds for parameters not in the table). It
// returns 0 for a bad value.
func (c *Config) Duration(name string) time.Duration {
	d, err := parseDuration(c.Get(name), defaultUnit(name))
	if err != nil {
		return 0
	}
	return d
}

// List returns the expanded value of name split on commas and/or
// whitespace, with empty items dropped.
func (c *Config) List(name string) []string {
	return splitList(c.Get(name))
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || isSpaceRune(r) })
}

// Set overrides name, as master.cf's -o name=value does. The value is
// validated against the parameter's type; on error c is left unchanged.
// Names not in the table are accepted as user-defined variables.
func (c *Config) Set(name, value string) error {
	if name == "" || strings.ContainsAny(name, "= \t\r\n") {
		return fmt.Errorf("set %q: bad parameter name", name)
	}
	if strings.ContainsAny(value, "\r\n") {
		return fmt.Errorf("set %s: value contains a newline", name)
	}
	old, had := c.vals[name]
	c.vals[name] = setting{value: strings.TrimFunc(value, isSpaceRune)}
	err := c.validate(name)
	if err == nil && name == "myorigin" {
		err = c.readOrigin()
	}
	if err != nil {
		if had {
			c.vals[name] = old
		} else {
			delete(c.vals, name)
		}
		if name == "myorigin" {
			_ = c.readOrigin() // the old value's file, read before
		}
		return fmt.Errorf("set %s: %w", name, err)
	}
	return nil
}

// Clone returns an independent copy of c.
func (c *Config) Clone() *Config {
	n := &Config{file: c.file, hostname: c.hostname, vals: make(map[string]setting, len(c.vals)), origin: c.origin}
	for k, v := range c.vals {
		n.vals[k] = v
	}
	return n
}

// NonDefault returns "name = value" (unexpanded) for each parameter set in
// main.cf or by Set, sorted by name.
func (c *Config) NonDefault() []string {
	names := make([]string, 0, len(c.vals))
	for k := range c.vals {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]string, len(names))
	for i, k := range names {
		out[i] = k + " = " + c.vals[k].value
	}
	return out
}

// Names returns the names of every table parameter plus every name set in
// main.cf or by Set, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(paramTable)+len(c.vals))
	for _, p := range paramTable {
		names = append(names, p.Name)
	}
	for k := range c.vals {
		if _, known := paramIndex[k]; !known {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// Warnings returns one message per parameter that main.cf sets but that
// is neither in the table nor referenced as $name by any other value, e.g.
// "/etc/tern/main.cf:12: warning: unknown parameter \"foo_bar\"".
func (c *Config) Warnings() []string {
	return c.WarningsWithRefs()
}

// WarningsWithRefs is Warnings where $name references in extraValues
// (for example master.cf -o values) also count as uses of name.
func (c *Config) WarningsWithRefs(extraValues ...string) []string {
	return c.WarningsWithServices(nil, extraValues...)
}

// Per-service parameters: Postfix takes <service>_<suffix> for any
// master.cf service. tern honours these suffixes...
var serviceSuffixes = []string{"_destination_concurrency_limit", "_destination_recipient_limit", "_time_limit",
	"_destination_rate_delay", "_initial_destination_concurrency", "_destination_concurrency_failed_cohort_limit",
	"_destination_concurrency_negative_feedback", "_destination_concurrency_positive_feedback", "_transport_rate_delay"}

// ...and knows these, which it does not support yet.
var unsupportedServiceSuffixes = []string{"_extra_recipient_limit", "_recipient_limit",
	"_recipient_refill_limit", "_recipient_refill_delay", "_delivery_slot_cost", "_delivery_slot_discount",
	"_delivery_slot_loan", "_minimum_delivery_slots"}

// serviceParam says whether name is <service>_<suffix> for one of
// services, and whether tern supports it.
func serviceParam(name string, services []string) (known, supported bool) {
	for _, s := range services {
		rest, ok := strings.CutPrefix(name, s)
		if !ok {
			continue
		}
		for _, suf := range serviceSuffixes {
			if rest == suf {
				return true, true
			}
		}
		for _, suf := range unsupportedServiceSuffixes {
			if rest == suf {
				return true, false
			}
		}
	}
	return false, false
}

// WarningsWithServices is WarningsWithRefs that also knows the
// per-service parameters (<service>_time_limit and the like) of the
// master.cf services named.
func (c *Config) WarningsWithServices(services []string, extraValues ...string) []string {
	refs := c.referencedNames()
	for _, v := range extraValues {
		collectRefs(v, refs)
	}
	type unknown struct {
		name        string
		line        int
		unsupported bool
		text        string // a warning of its own, when set
	}
	var list []unknown
	for k, s := range c.vals {
		if s.line == 0 {
			continue
		}
		if _, known := Lookup(k); known {
			if c.unsupportedValue(k, c.Get(k)) {
				list = append(list, unknown{k, s.line, true, unsupportedText(k)})
			}
			if words := unhonouredWords(k, c.List(k)); len(words) > 0 {
				list = append(list, unknown{k, s.line, true, fmt.Sprintf("%s: %s %s no effect in tern", k, strings.Join(words, ", "), hasOrHave(len(words)))})
			}
			if text := c.crossWarning(k); text != "" {
				list = append(list, unknown{k, s.line, true, text})
			}
			continue
		}
		if known, supported := serviceParam(k, services); known {
			if !supported {
				list = append(list, unknown{k, s.line, true, ""})
			}
			continue
		}
		if strings.HasPrefix(k, postscreenPrefix) && !postscreenHonoured[k] { // an older name, such as postscreen_whitelist_interfaces
			list = append(list, unknown{k, s.line, true, ""})
			continue
		}
		if !refs[k] {
			list = append(list, unknown{k, s.line, false, ""})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].line < list[j].line })
	out := make([]string, len(list))
	for i, u := range list {
		if u.text != "" {
			out[i] = fmt.Sprintf("%s:%d: warning: %s", c.file, u.line, u.text)
			continue
		}
		if u.unsupported {
			out[i] = fmt.Sprintf("%s:%d: warning: %s is not supported by tern yet: the setting has no effect", c.file, u.line, u.name)
			continue
		}
		out[i] = fmt.Sprintf("%s:%d: warning: unknown parameter %q", c.file, u.line, u.name)
	}
	return out
}

// referencedNames collects every name referenced as $name in a set value
// or a table default, and the restriction classes named in
// smtpd_restriction_classes, which are parameters of their own (as
// postconf knows them).
func (c *Config) referencedNames() map[string]bool {
	refs := map[string]bool{}
	for _, s := range c.vals {
		collectRefs(s.value, refs)
	}
	for _, p := range paramTable {
		collectRefs(p.Default, refs)
	}
	for _, class := range c.List("smtpd_restriction_classes") {
		refs[class] = true
	}
	return refs
}

// hasOrHave agrees the verb with a count of n words.
func hasOrHave(n int) string {
	if n == 1 {
		return "has"
	}
	return "have"
}
