// Command gen-manual writes tern(5), the manual page of tern's main.cf
// parameters, from the parameter table in pkg/config, so that the page and
// the table cannot drift apart:
//
//	go run ./cmd/gen-manual -o man/tern.5
//
// Without -o (or with "-o -") the page goes to standard output. The test of
// this package fails when man/tern.5 differs from what the table gives.
package main

//go:generate go run . -o ../../man/tern.5

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tern-mta/tern/pkg/config"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main with its arguments and output streams; it returns the exit
// status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gen-manual", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "-", "write the page to this `file` (\"-\": standard output)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gen-manual: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var page bytes.Buffer
	if err := render(&page, config.Params(), isComputed); err != nil {
		fmt.Fprintf(stderr, "gen-manual: %v\n", err)
		return 1
	}
	if err := writeOutput(*out, page.Bytes(), stdout); err != nil {
		fmt.Fprintf(stderr, "gen-manual: %v\n", err)
		return 1
	}
	return 0
}

// isComputed reports whether a parameter's default is worked out from the
// machine rather than written in the table: the table leaves Default empty
// for those, yet the built-in configuration has a value.
func isComputed(p config.Param) bool {
	if p.Default != "" {
		return false
	}
	v, _ := config.Defaults().Raw(p.Name)
	return v != ""
}

// writeOutput writes page to path, or to stdout for "-". A file is written
// beside its final name and renamed over it, so that a reader never sees
// half a page.
func writeOutput(path string, page []byte, stdout io.Writer) error {
	if path == "-" {
		if _, err := stdout.Write(page); err != nil {
			return fmt.Errorf("write standard output: %w", err)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gen-manual-*")
	if err != nil {
		return fmt.Errorf("create temporary file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(page); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename to %s: %w", path, err)
	}
	return nil
}
