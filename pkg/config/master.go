package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Service is one master.cf entry.
type Service struct {
	Name      string      // service name (column 1), e.g. "smtp", "127.0.0.1:2525", "pickup"
	Type      string      // inet, unix, unix-dgram, fifo or pass
	Private   bool        // column 2 ("-" = y)
	Unpriv    bool        // column 3 ("-" = y)
	Chroot    bool        // column 4 ("-" = n in tern)
	Wakeup    int         // column 5 in seconds; 0 for "-" or 0 (a trailing "?" is stripped)
	MaxProc   int         // column 6; "-" = default_process_limit; 0 = unlimited
	Command   string      // first word of column 8, e.g. "smtpd"
	Args      []string    // remaining words, without the -o name=value pairs
	Overrides [][2]string // -o name=value pairs in order
	File      string      // master.cf path
	Line      int         // line of the entry's first physical line
}

// masterColumns is the number of columns before the command arguments.
const masterColumns = 7

// LoadMaster reads dir/master.cf. defaultProcessLimit replaces "-" in the
// maxproc column.
func LoadMaster(dir string, defaultProcessLimit int) ([]Service, error) {
	path := filepath.Join(dir, "master.cf")
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	return ParseMaster(path, f, defaultProcessLimit)
}

// ParseMaster is LoadMaster from a reader; name is used as the file name
// in messages. Duplicate name+type pairs are an error.
func ParseMaster(name string, r io.Reader, defaultProcessLimit int) ([]Service, error) {
	lines, err := readLogicalLines(name, r)
	if err != nil {
		return nil, err
	}
	var out []Service
	seen := map[string]int{}
	for _, l := range lines {
		s, err := parseService(l.text, defaultProcessLimit)
		if err != nil {
			return nil, &Error{File: name, Line: l.line, Msg: err.Error()}
		}
		key := s.Name + "/" + s.Type
		if prev, dup := seen[key]; dup {
			return nil, &Error{File: name, Line: l.line,
				Msg: fmt.Sprintf("duplicate service %s (first defined at line %d)", key, prev)}
		}
		seen[key] = l.line
		s.File, s.Line = name, l.line
		out = append(out, s)
	}
	return out, nil
}

// parseService parses one logical master.cf line.
func parseService(text string, defaultProcessLimit int) (Service, error) {
	words, err := masterWords(text)
	if err != nil {
		return Service{}, err
	}
	if len(words) <= masterColumns {
		return Service{}, fmt.Errorf("expected at least %d columns, found %d", masterColumns+1, len(words))
	}
	s := Service{Name: words[0], Type: words[1]}
	if !validServiceType(s.Type) {
		return Service{}, fmt.Errorf("unknown service type %q for service %s", s.Type, s.Name)
	}
	if s.Private, err = yesNo(words[2], true, "private"); err != nil {
		return Service{}, err
	}
	if s.Unpriv, err = yesNo(words[3], true, "unpriv"); err != nil {
		return Service{}, err
	}
	if s.Chroot, err = yesNo(words[4], false, "chroot"); err != nil {
		return Service{}, err
	}
	if s.Wakeup, err = wakeupColumn(words[5]); err != nil {
		return Service{}, err
	}
	if s.MaxProc, err = countColumn(words[6], defaultProcessLimit, "maxproc"); err != nil {
		return Service{}, err
	}
	if err := s.parseCommand(words[masterColumns:]); err != nil {
		return Service{}, err
	}
	return s, nil
}

func validServiceType(t string) bool {
	switch t {
	case "inet", "unix", "unix-dgram", "fifo", "pass":
		return true
	}
	return false
}

func yesNo(w string, dflt bool, column string) (bool, error) {
	switch w {
	case "-":
		return dflt, nil
	case "y":
		return true, nil
	case "n":
		return false, nil
	}
	return false, fmt.Errorf("bad %s column value %q: want y, n or -", column, w)
}

func wakeupColumn(w string) (int, error) {
	if w == "-" {
		return 0, nil
	}
	n, err := countColumn(strings.TrimSuffix(w, "?"), 0, "wakeup")
	if err != nil {
		return 0, fmt.Errorf("bad wakeup column value %q", w)
	}
	return n, nil
}

func countColumn(w string, dflt int, column string) (int, error) {
	if w == "-" {
		return dflt, nil
	}
	n, err := strconv.ParseUint(w, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("bad %s column value %q", column, w)
	}
	return int(n), nil
}

// parseCommand fills Command, Args and Overrides from the command words.
func (s *Service) parseCommand(words []string) error {
	s.Command = words[0]
	if s.Command == "" {
		return errors.New("missing command name")
	}
	for i := 1; i < len(words); i++ {
		arg := words[i]
		switch {
		case arg == "-o":
			if i+1 >= len(words) {
				return errors.New("missing name=value after -o")
			}
			i++
			arg = words[i]
		case strings.HasPrefix(arg, "-o") && strings.Contains(arg, "="):
			arg = arg[2:] // getopt style: -oname=value
		default:
			s.Args = append(s.Args, arg)
			continue
		}
		k, v, ok := strings.Cut(arg, "=")
		k = strings.TrimFunc(k, isSpaceRune)
		if !ok || k == "" {
			return fmt.Errorf("bad -o argument %q: want name=value", arg)
		}
		s.Overrides = append(s.Overrides, [2]string{k, strings.TrimFunc(v, isSpaceRune)})
	}
	return nil
}

// masterWords splits a logical line into whitespace-separated words; a
// word that starts with '{' extends to the matching '}' and loses its
// braces and the whitespace just inside them (Postfix 3.0 syntax).
func masterWords(text string) ([]string, error) {
	var words []string
	for i := 0; i < len(text); {
		if isSpace(text[i]) {
			i++
			continue
		}
		if text[i] == '{' {
			end, err := matchingClose(text, i)
			if err != nil {
				return nil, errors.New("missing '}' in {...} argument")
			}
			if end+1 < len(text) && !isSpace(text[end+1]) {
				return nil, fmt.Errorf("unexpected text after '}': %q", text[end+1:])
			}
			words = append(words, strings.TrimFunc(text[i+1:end], isSpaceRune))
			i = end + 1
			continue
		}
		j := i
		for j < len(text) && !isSpace(text[j]) {
			j++
		}
		words = append(words, text[i:j])
		i = j
	}
	return words, nil
}

// String formats s as one normalised master.cf line (without File/Line).
func (s Service) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%-9s %-5s %-7s %-7s %-7s %-7s %-7d %s", s.Name, s.Type,
		yn(s.Private), yn(s.Unpriv), yn(s.Chroot), dashIfZero(s.Wakeup), s.MaxProc, quoteWord(s.Command))
	for _, a := range s.Args {
		sb.WriteString(" " + quoteWord(a))
	}
	for _, o := range s.Overrides {
		if strings.ContainsAny(o[0]+o[1], " \t{}") || o[1] == "" {
			fmt.Fprintf(&sb, " -o { %s = %s }", o[0], o[1])
		} else {
			fmt.Fprintf(&sb, " -o %s=%s", o[0], o[1])
		}
	}
	return strings.TrimRight(sb.String(), " ")
}

func yn(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

func dashIfZero(n int) string {
	if n == 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func quoteWord(w string) string {
	if w == "" || w == "-o" || strings.ContainsAny(w, " \t") || w[0] == '{' {
		return "{ " + w + " }"
	}
	return w
}

// OverrideWarnings returns a warning, at the master.cf entry, for each -o
// parameter of services that tern does not know (unless another value
// refers to it as $name, as a parameter of the admin's own), or knows but
// does not support, set to other than its default. Postfix warns about
// unused -o parameters too.
func (c *Config) OverrideWarnings(services []Service) []string {
	refs := c.referencedNames()
	var names []string
	for _, s := range services {
		names = append(names, s.Name)
		for _, o := range s.Overrides {
			collectRefs(o[1], refs)
		}
	}
	var out []string
	for _, s := range services {
		for _, o := range s.Overrides {
			name, value := o[0], o[1]
			where := fmt.Sprintf("%s:%d: warning: service %s: -o %s", s.File, s.Line, s.Name, name)
			if _, known := Lookup(name); known {
				if c.unsupportedValue(name, value) {
					out = append(out, fmt.Sprintf("%s:%d: warning: service %s: -o %s", s.File, s.Line, s.Name, unsupportedText(name)))
				}
				continue
			}
			if known, supported := serviceParam(name, names); known {
				if !supported {
					out = append(out, where+" is not supported by tern yet: the setting has no effect")
				}
				continue
			}
			if !refs[name] {
				out = append(out, where+": unknown parameter")
			}
		}
	}
	return out
}
