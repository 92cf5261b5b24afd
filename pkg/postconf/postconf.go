// Package postconf implements "tern conf", which prints and edits tern's
// main.cf and master.cf like Postfix's postconf(1).
package postconf

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tern-mta/tern/pkg/config"
)

// Exit codes of Main.
const (
	exitOK        = 0
	exitUnknown   = 1 // an unknown parameter name was asked for, or bad usage
	exitBadConfig = 2 // main.cf or master.cf could not be read
)

const prog = "tern conf"

// options holds the parsed command line.
type options struct {
	dir                                string
	nonDefault, defaults, hide, expand bool
	edit, remove, master               bool
	args                               []string
	stdout, stderr                     io.Writer
}

// Main runs "tern conf" with args (without the program name) and returns
// the exit status: 0 on success, 1 when an unknown parameter was named or
// the usage is wrong, 2 when the configuration is bad.
//
// Flags: -c DIR configuration directory; -n only parameters set in
// main.cf; -d defaults; -h values without "name = "; -x expand values;
// -e name=value... edit main.cf in place; -X name... remove parameters;
// -M print master.cf services. Other arguments name the parameters (or,
// with -M, the services) to print.
func Main(args []string, stdout, stderr io.Writer) int {
	o := &options{stdout: stdout, stderr: stderr}
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVarP(&o.dir, "config-dir", "c", "", "configuration directory (default $MAIL_CONFIG or "+config.DefaultDir+")")
	fs.BoolVarP(&o.nonDefault, "non-default", "n", false, "print only parameters set in main.cf")
	fs.BoolVarP(&o.defaults, "defaults", "d", false, "print default values")
	fs.BoolVarP(&o.hide, "hide-names", "h", false, "print values only, without \"name = \"")
	fs.BoolVarP(&o.expand, "expand", "x", false, "expand $name references in values")
	fs.BoolVarP(&o.edit, "edit", "e", false, "edit main.cf: set each name=value argument")
	fs.BoolVarP(&o.remove, "remove", "X", false, "edit main.cf: remove each named parameter")
	fs.BoolVarP(&o.master, "master", "M", false, "print master.cf services")
	fs.SortFlags = false
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return exitUnknown
	}
	o.args = fs.Args()
	o.dir = config.Dir(o.dir)
	if err := o.checkModes(); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return exitUnknown
	}
	switch {
	case o.edit:
		return o.runEdit()
	case o.remove:
		return o.runRemove()
	case o.master:
		return o.runMaster()
	default:
		return o.runPrint()
	}
}

// checkModes rejects contradictory flag combinations.
func (o *options) checkModes() error {
	modes := 0
	for _, b := range []bool{o.edit, o.remove, o.master, o.nonDefault, o.defaults} {
		if b {
			modes++
		}
	}
	if modes > 1 {
		return errors.New("use only one of -d, -e, -M, -n and -X")
	}
	if (o.edit || o.remove) && len(o.args) == 0 {
		return errors.New("-e and -X need at least one argument")
	}
	return nil
}

// load reads main.cf, reporting errors and warnings on stderr.
func (o *options) load() (*config.Config, int) {
	c, err := config.Load(o.dir)
	if err != nil {
		fmt.Fprintln(o.stderr, err)
		return nil, exitBadConfig
	}
	names, values := o.masterServices(c)
	for _, w := range c.WarningsWithServices(names, values...) {
		o.warn(w)
	}
	return c, exitOK
}

// masterValues returns the -o values of master.cf, whose $name references
// keep user-defined main.cf parameters from being reported as unused. A
// missing or bad master.cf gives none (-M reports its errors).
func (o *options) masterServices(c *config.Config) (names, values []string) {
	services, err := config.LoadMaster(o.dir, c.Int("default_process_limit"))
	if err != nil {
		return nil, nil
	}
	for _, s := range services {
		names = append(names, s.Name)
		for _, ov := range s.Overrides {
			values = append(values, ov[1])
		}
	}
	return names, values
}

// warn prints a Load warning as "tern conf: warning: FILE:LINE: text".
func (o *options) warn(w string) {
	if loc, msg, ok := strings.Cut(w, ": warning: "); ok {
		w = loc + ": " + msg
	}
	fmt.Fprintf(o.stderr, "%s: warning: %s\n", prog, w)
}

// runPrint prints parameters: all, the named ones, the set ones (-n) or
// the defaults (-d).
func (o *options) runPrint() int {
	var c *config.Config
	if o.defaults {
		c = config.Defaults()
	} else {
		var code int
		if c, code = o.load(); c == nil {
			return code
		}
	}
	names, code := o.selectNames(c)
	for _, name := range names {
		o.printParam(c, name)
	}
	return code
}

// selectNames returns the parameters to print, warning about unknown ones.
func (o *options) selectNames(c *config.Config) ([]string, int) {
	if len(o.args) == 0 {
		if o.nonDefault {
			return setNames(c), exitOK
		}
		if o.defaults {
			return tableNames(), exitOK
		}
		return c.Names(), exitOK
	}
	code := exitOK
	var names []string
	for _, name := range o.args {
		_, set := c.Raw(name)
		_, known := config.Lookup(name)
		switch {
		case !known && !set:
			fmt.Fprintf(o.stderr, "%s: warning: unknown parameter: %s\n", prog, name)
			code = exitUnknown
		case o.nonDefault && !set:
			// -n prints only parameters set in main.cf
		default:
			names = append(names, name)
		}
	}
	return names, code
}

func setNames(c *config.Config) []string {
	var names []string
	for _, line := range c.NonDefault() {
		name, _, _ := strings.Cut(line, " = ")
		names = append(names, name)
	}
	return names
}

func tableNames() []string {
	params := config.Params()
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	return names
}

// printParam prints one parameter as "name = value" or, with -h, value.
func (o *options) printParam(c *config.Config, name string) {
	value, _ := c.Raw(name)
	if o.expand {
		value = c.Get(name)
	}
	if o.hide {
		fmt.Fprintln(o.stdout, value)
		return
	}
	if value == "" {
		fmt.Fprintf(o.stdout, "%s =\n", name)
		return
	}
	fmt.Fprintf(o.stdout, "%s = %s\n", name, value)
}

// runMaster prints master.cf services, all or those named as service or
// service/type.
func (o *options) runMaster() int {
	c, code := o.load()
	if c == nil {
		return code
	}
	services, err := config.LoadMaster(o.dir, c.Int("default_process_limit"))
	if err != nil {
		fmt.Fprintln(o.stderr, err)
		return exitBadConfig
	}
	code = exitOK
	matched := make([]bool, len(o.args))
	for _, s := range services {
		if len(o.args) > 0 && !matchService(s, o.args, matched) {
			continue
		}
		fmt.Fprintln(o.stdout, s.String())
	}
	for i, ok := range matched {
		if !ok {
			fmt.Fprintf(o.stderr, "%s: warning: unknown service: %s\n", prog, o.args[i])
			code = exitUnknown
		}
	}
	return code
}

func matchService(s config.Service, args []string, matched []bool) bool {
	hit := false
	for i, a := range args {
		if a == s.Name || a == s.Name+"/"+s.Type {
			matched[i] = true
			hit = true
		}
	}
	return hit
}
