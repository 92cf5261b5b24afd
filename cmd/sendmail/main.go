// Command sendmail is tern's sendmail, mailq and newaliases for programs:
// the Postfix-compatible command line of pkg/sendmail in a small binary
// of its own. Programs such as cron and PHP's mail() start it once per
// message, so its start-up time is theirs; the tern binary, with every
// daemon and lookup table type linked in, takes three times as long to
// start. Rebuilding the aliases (newaliases, -bi, -I) runs "tern
// newaliases" from the tern binary installed beside this one.
package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/tern-mta/tern/pkg/sendmail"
)

func main() {
	prog := filepath.Base(os.Args[0])
	if prog != "mailq" && prog != "newaliases" {
		prog = "sendmail"
	}
	os.Exit(sendmail.Command(prog, os.Args[1:], os.Stdin, os.Stdout, os.Stderr,
		func(args []string) int { return execNewaliases(prog, args, os.Stderr) }))
}

// execNewaliases replaces this process with "tern newaliases args", or
// reports why it can't and returns EX_TEMPFAIL.
func execNewaliases(prog string, args []string, stderr io.Writer) int {
	tern, err := ternBinary()
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: newaliases: %v\n", prog, err)
		return sendmail.ExTempFail
	}
	argv := append([]string{tern, "newaliases"}, args...)
	err = syscall.Exec(tern, argv, os.Environ())
	fmt.Fprintf(stderr, "%s: fatal: newaliases: run %s: %v\n", prog, tern, err)
	return sendmail.ExTempFail
}

// ternBinary finds the tern binary: beside this program (make install puts
// both in one directory), else on PATH.
func ternBinary() (string, error) {
	self, err := os.Executable()
	if err == nil {
		if resolved, rerr := filepath.EvalSymlinks(self); rerr == nil {
			self = resolved
		}
		beside := filepath.Join(filepath.Dir(self), "tern")
		if fi, serr := os.Stat(beside); serr == nil && fi.Mode().IsRegular() {
			return beside, nil
		}
	}
	path, err := exec.LookPath("tern")
	if err != nil {
		return "", fmt.Errorf("no tern binary beside %s or on PATH", self)
	}
	return path, nil
}
