package postmap

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/tern-mta/tern/pkg/maps"
)

// runBuild builds every table from its source file, or with -i adds the
// entries on stdin to every table.
func (c *command) runBuild(specs []string) error {
	var stdin []byte
	if c.incremental {
		data, err := io.ReadAll(c.stdin)
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		stdin = data
	}
	for _, spec := range specs {
		typ, name, err := maps.SplitSpec(spec)
		if err != nil {
			return err
		}
		opt := c.buildOptions()
		if c.incremental {
			opt.Incremental, opt.Source, opt.SourceName = true, bytes.NewReader(stdin), "stdin"
		}
		c.debug("building %s", spec)
		warnings, err := maps.BuildWith(typ, name, opt)
		for _, w := range warnings {
			c.warn(w)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
	}
	return nil
}

// runQuery implements -q: the first value found for the key, or with
// "-q -" a "key<TAB>value" line for every key on stdin that is found, as
// the keys are read.
func (c *command) runQuery(specs []string) error {
	ms, err := c.openAll(specs)
	if err != nil {
		return err
	}
	defer maps.CloseAll(ms)
	out := bufio.NewWriterSize(c.stdout, 64<<10)
	var found bool
	if c.query == "-" {
		found, err = c.queryStream(ms, out)
	} else {
		found, err = c.queryOne(ms, out)
	}
	if ferr := out.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	if err != nil {
		return err
	}
	if !found {
		return errNotFound
	}
	return nil
}

// queryOne looks up the -q key and writes its value.
func (c *command) queryOne(ms []maps.Map, out *bufio.Writer) (bool, error) {
	value, ok, err := maps.LookupFirst(ms, c.query)
	if err != nil {
		return false, fmt.Errorf("query error: %w", err)
	}
	if ok {
		out.WriteString(value)
		out.WriteByte('\n')
	}
	return ok, nil
}

// runDump implements -s: every entry of every table.
func (c *command) runDump(specs []string) error {
	ms, err := c.openAll(specs)
	if err != nil {
		return err
	}
	defer maps.CloseAll(ms)
	out := bufio.NewWriter(c.stdout)
	for _, m := range ms {
		w, ok := m.(maps.Walker)
		if !ok {
			return fmt.Errorf("table %s: sequence operation is not supported", m.Name())
		}
		err := w.Walk(func(k, v string) error {
			return c.writeEntry(out, k, v)
		})
		if err != nil {
			return fmt.Errorf("table %s: %w", m.Name(), err)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// runDelete implements -d: remove the key (or the keys on stdin) from every
// table.
func (c *command) runDelete(specs []string) error {
	keys, err := c.keys(c.del)
	if err != nil {
		return err
	}
	found := false
	for _, spec := range specs {
		typ, name, err := maps.SplitSpec(spec)
		if err != nil {
			return err
		}
		n, err := maps.Delete(typ, name, keys)
		if err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
		c.debug("%s: %d entries removed", spec, n)
		found = found || n > 0
	}
	if !found {
		return errNotFound
	}
	return nil
}

func (c *command) openAll(specs []string) ([]maps.Map, error) {
	var ms []maps.Map
	for _, spec := range specs {
		c.debug("open %s", spec)
		m, err := maps.Open(spec, maps.Options{ConfigDir: c.configDir})
		if err != nil {
			maps.CloseAll(ms)
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}
