// Package postmap implements the table management commands: "tern map"
// (Postfix postmap(1)), "tern alias" (postalias(1)) and newaliases.
package postmap

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
)

// errNotFound makes a command exit with status 1 without a message: a
// query or delete that found nothing.
var errNotFound = errors.New("not found")

// command is one run of "tern map" or "tern alias".
type command struct {
	prog    string // name in messages, e.g. "tern map"
	aliases bool   // postalias syntax and output
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer

	configDir, query, del                  string
	dump, incremental, noFold, replace     bool
	ignoreDup, nul, noNul, keep, noInherit bool
	fileValues                             bool // -F
	verbose                                int
	defaultType                            string
}

// MapMain runs "tern map", the postmap(1) work-alike, and returns the exit
// status: 0 on success or when a query (-q) or delete (-d) found something,
// 1 when it found nothing or on a fatal error.
func MapMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &command{prog: "tern map", stdin: stdin, stdout: stdout, stderr: stderr}
	return c.main(args)
}

// AliasMain runs "tern alias", the postalias(1) work-alike: as MapMain but
// with aliases(5) source syntax and "key: value" output.
func AliasMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &command{prog: "tern alias", aliases: true, stdin: stdin, stdout: stdout, stderr: stderr}
	return c.main(args)
}

func (c *command) main(args []string) int {
	files, err := c.parseFlags(args)
	if err == nil {
		err = c.run(files)
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNotFound):
		return 1
	case errors.Is(err, pflag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(c.stderr, "%s: fatal: %v\n", c.prog, err)
		return 1
	}
}

func (c *command) parseFlags(args []string) ([]string, error) {
	fs := pflag.NewFlagSet(c.prog, pflag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fs.StringVarP(&c.configDir, "config-dir", "c", "", "read main.cf from this directory")
	fs.StringVarP(&c.query, "query", "q", "", "print the value of `key` (\"-\": keys from stdin)")
	fs.StringVarP(&c.del, "delete", "d", "", "remove `key` (\"-\": keys from stdin)")
	fs.BoolVarP(&c.dump, "show", "s", false, "print every entry")
	fs.BoolVarP(&c.incremental, "incremental", "i", false, "add entries from stdin to the existing table")
	fs.BoolVarP(&c.noFold, "no-fold", "f", false, "not supported: keys are always folded to lower case")
	fs.BoolVarP(&c.fileValues, "file-values", "F", false, "take values as file names and store their base64-encoded contents")
	fs.BoolVarP(&c.nul, "nul", "N", false, "accepted for compatibility; no effect")
	fs.BoolVarP(&c.noNul, "no-nul", "n", false, "accepted for compatibility; no effect")
	fs.BoolVarP(&c.replace, "replace", "r", false, "replace duplicate entries silently")
	fs.BoolVarP(&c.ignoreDup, "ignore-duplicates", "w", false, "ignore duplicate entries silently")
	fs.BoolVarP(&c.keep, "keep-privileges", "o", false, "accepted for compatibility; no effect")
	fs.BoolVarP(&c.noInherit, "no-inherit", "p", false, "accepted for compatibility; no effect")
	fs.CountVarP(&c.verbose, "verbose", "v", "verbose logging")
	fs.Usage = func() {
		fmt.Fprintf(c.stderr, "usage: %s [-FNfinoprsvw] [-c config_dir] [-d key] [-q key] [type:]file...\n", c.prog)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	modes := 0
	for _, on := range []bool{c.query != "", c.del != "", c.dump, c.incremental} {
		if on {
			modes++
		}
	}
	if modes > 1 {
		return nil, errors.New("specify only one of -d, -i, -q or -s")
	}
	if fs.NArg() == 0 {
		return nil, fmt.Errorf("usage: %s [-FNfinoprsvw] [-c config_dir] [-d key] [-q key] [type:]file [...]", c.prog)
	}
	return fs.Args(), nil
}

func (c *command) run(files []string) error {
	if c.noFold {
		c.warn("-f is not supported: lookup keys are always folded to lower case")
	}
	cfg, err := config.Load(config.Dir(c.configDir))
	if err != nil {
		return err
	}
	c.defaultType = cfg.Get("default_database_type")
	specs := make([]string, len(files))
	for i, f := range files {
		specs[i] = qualify(f, c.defaultType)
	}
	switch {
	case c.query != "":
		return c.runQuery(specs)
	case c.dump:
		return c.runDump(specs)
	case c.del != "":
		return c.runDelete(specs)
	default:
		return c.runBuild(specs)
	}
}

// qualify adds the default table type to a file name without one.
func qualify(arg, defaultType string) string {
	if i := strings.IndexByte(arg, ':'); i > 0 && !strings.ContainsRune(arg[:i], '/') {
		return arg
	}
	return defaultType + ":" + arg
}

func (c *command) warn(msg string) {
	fmt.Fprintf(c.stderr, "%s: warning: %s\n", c.prog, msg)
}

func (c *command) debug(format string, args ...any) {
	if c.verbose > 0 {
		fmt.Fprintf(c.stderr, "%s: %s\n", c.prog, fmt.Sprintf(format, args...))
	}
}

// buildOptions returns the table build options the flags ask for.
func (c *command) buildOptions() maps.BuildOptions {
	opt := maps.BuildOptions{Aliases: c.aliases, FileValues: c.fileValues}
	switch {
	case c.replace:
		opt.Dup = maps.DupReplace
	case c.ignoreDup:
		opt.Dup = maps.DupIgnore
	}
	return opt
}

// maxKeyLine is the longest line of keys read from stdin.
const maxKeyLine = 1 << 20

// newKeyScanner returns a scanner for the lines of keys on r.
func newKeyScanner(r io.Reader) *bufio.Scanner {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), maxKeyLine)
	return sc
}

// keys returns the keys named by a -q or -d argument: the argument itself,
// or the lines of stdin for "-".
func (c *command) keys(arg string) ([]string, error) {
	if arg != "-" {
		return []string{arg}, nil
	}
	var keys []string
	sc := newKeyScanner(c.stdin)
	for sc.Scan() {
		keys = append(keys, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read keys from stdin: %w", err)
	}
	return keys, nil
}

// writeEntry writes one entry the way postmap -s and -q - print it:
// "key<TAB>value", or for postalias "key:<TAB>value". Write errors stick
// in out and are reported by its Flush.
func (c *command) writeEntry(out *bufio.Writer, key, value string) error {
	c.writeKey(out, key)
	out.WriteString(value)
	return out.WriteByte('\n')
}

// writeKey writes the part of an entry's line before the value.
func (c *command) writeKey(out *bufio.Writer, key string) {
	out.WriteString(key)
	if c.aliases {
		out.WriteByte(':')
	}
	out.WriteByte('\t')
}
