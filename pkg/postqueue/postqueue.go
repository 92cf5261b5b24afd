// Package postqueue is Postfix's postqueue(1) for tern: list the queue
// (-p, or -j as JSON) and flush it (-f, -s site, -i queue_id). The text
// listing and the flushes are sendmail's (mailq, -q, -qR, -qI); -j asks
// qmgr's showq service for JSON.
package postqueue

import (
	"fmt"
	"io"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/sendmail"
)

const prog = "postqueue"

const usage = "usage: postqueue -f | postqueue -i queueid | postqueue -j | postqueue -p | postqueue -s site"

// request is a parsed command line.
type request struct {
	dir    string // -c
	action byte   // f, i, j, p or s
	arg    string // the queue id of -i, the site of -s
}

// parse reads postqueue's options, getopt style ("-c dir" or "-cdir",
// "-vp"). Exactly one action is allowed.
func parse(args []string) (request, error) {
	var r request
	set := func(a byte, arg string) error {
		if r.action != 0 {
			return fmt.Errorf("%s", usage)
		}
		r.action, r.arg = a, arg
		return nil
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || len(a) < 2 || a[0] != '-' {
			return r, fmt.Errorf("%s", usage)
		}
		for j := 1; j < len(a); j++ {
			switch c := a[j]; c {
			case 'v':
			case 'f', 'j', 'p':
				if err := set(c, ""); err != nil {
					return r, err
				}
			case 'c', 'i', 's':
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return r, fmt.Errorf("option requires an argument -- '%c'\n%s", c, usage)
					}
					i++
					val = args[i]
				}
				if c == 'c' {
					r.dir = val
				} else if err := set(c, val); err != nil {
					return r, err
				}
				j = len(a)
			default:
				return r, fmt.Errorf("invalid option -- '%c'\n%s", c, usage)
			}
		}
	}
	if r.action == 0 {
		return r, fmt.Errorf("%s", usage)
	}
	return r, nil
}

// sendmailArgs are the sendmail options that do what r asks (not -j).
func (r request) sendmailArgs() []string {
	var out []string
	switch r.action {
	case 'p':
		out = []string{"-bp"}
	case 'f':
		out = []string{"-q"}
	case 's':
		out = []string{"-qR" + r.arg}
	case 'i':
		out = []string{"-qI" + r.arg}
	}
	if r.dir != "" {
		out = append(out, "-C", r.dir)
	}
	return out
}

// Main runs postqueue with args (without the program name) and returns
// its exit status: 64 (EX_USAGE) for a bad command line, sendmail's
// statuses otherwise.
func Main(args []string, stdout, stderr io.Writer) int {
	r, err := parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, strings.ReplaceAll(err.Error(), "\n", "\n"+prog+": "))
		return sendmail.ExUsage
	}
	if r.action != 'j' {
		return sendmail.Command(prog, r.sendmailArgs(), strings.NewReader(""), stdout, stderr, nil)
	}
	env, err := sendmail.EnvFromConfig(config.Dir(r.dir))
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return sendmail.ExConfig
	}
	env.Stdout, env.Stderr = stdout, stderr
	return sendmail.MailqJSON(prog, env)
}
