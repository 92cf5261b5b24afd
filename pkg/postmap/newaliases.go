package postmap

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
)

// NewaliasesMain runs newaliases: it rebuilds every hash: or btree: table
// named by alias_database in main.cf from its aliases(5) source file. Other
// table types cannot be built and are reported. It returns the exit status.
func NewaliasesMain(args []string, stdout, stderr io.Writer) int {
	const prog = "newaliases"
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	var dir, sendmailDir string
	var verbose int
	fs.StringVarP(&dir, "config-dir", "c", "", "read main.cf from this directory")
	fs.StringVarP(&sendmailDir, "sendmail-config", "C", "", "as -c (sendmail compatibility)")
	fs.CountVarP(&verbose, "verbose", "v", "verbose logging")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return 1
	}
	if dir == "" {
		dir = sendmailDir
	}
	cfg, err := config.Load(config.Dir(dir))
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return 1
	}
	specs, err := maps.SplitSpecs(cfg.Get("alias_database"))
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: alias_database: %v\n", prog, err)
		return 1
	}
	c := &command{prog: prog, aliases: true, stdout: stdout, stderr: stderr, verbose: verbose}
	return c.newaliases(specs, cfg.Get("default_database_type"))
}

// newaliases builds each alias table; a table that cannot be built is
// reported and the others are still built.
func (c *command) newaliases(specs []string, defaultType string) int {
	status := 0
	for _, spec := range specs {
		typ, name, err := maps.SplitSpec(qualify(spec, defaultType))
		if err == nil {
			c.debug("building %s:%s", typ, name)
			var warnings []string
			warnings, err = maps.BuildWith(typ, name, maps.BuildOptions{Aliases: true})
			for _, w := range warnings {
				c.warn(w)
			}
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "%s: error: alias_database %s: %v\n", c.prog, spec, err)
			status = 1
		}
	}
	return status
}
