// Command tern is the single binary of the tern mail system: every daemon
// and every command. The name it is called by (sendmail, mailq, newaliases)
// or its first argument picks what it does; see tern(1).
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tern-mta/tern/lmtp"
	"github.com/tern-mta/tern/local"
	"github.com/tern-mta/tern/master"
	"github.com/tern-mta/tern/pipe"
	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/postconf"
	"github.com/tern-mta/tern/pkg/postmap"
	"github.com/tern-mta/tern/pkg/postqueue"
	"github.com/tern-mta/tern/pkg/postsuper"
	"github.com/tern-mta/tern/qmgr"
	"github.com/tern-mta/tern/smtp"
	"github.com/tern-mta/tern/smtpd"
	"github.com/tern-mta/tern/spawn"
	"github.com/tern-mta/tern/virtual"
)

const usage = `usage: tern COMMAND [ARGS]

Mail system control (as postfix(1)):
  start | start-fg | stop | abort | reload | status | check
  logrotate         rename maillog_file, reopen it and compress the old one
                    (as postfix logrotate)
  flush             try every deferred message now (as postfix flush)
  queue flush|list  the same as flush; list the queue (as mailq)
  queue delete|hold|release|requeue ID|ALL|- ... [QUEUE ...]
                    change queued mail (as postsuper -d, -h, -H, -r)
  queue show [-ebh] ID ...
                    print a queued message (as postcat -q)
  postsuper ARGS    the same with postsuper's options (also as postsuper)
  postcat ARGS      postcat -q with its options (also as postcat)
  postqueue ARGS    -p, -j (JSON), -f, -s site, -i id (also as postqueue)
Commands:
  sendmail ARGS     submit mail (also as /usr/sbin/sendmail)
  mailq             list the queue (also as mailq, sendmail -bp)
  newaliases        rebuild alias_database (also as newaliases, sendmail -bi)
  conf ARGS         show or edit main.cf (also as postconf)
  map ARGS          build and query lookup tables (as postmap)
  alias ARGS        build and query alias tables (as postalias)
  version           print the version
Internal (started by master):
  master, daemon NAME, local-helper
`

func main() {
	os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}

func run(argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch filepath.Base(argv[0]) {
	case "sendmail", "mailq", "newaliases":
		return sendmailMain(filepath.Base(argv[0]), argv[1:], stdin, stdout, stderr)
	case "postmap":
		return postmap.MapMain(argv[1:], stdin, stdout, stderr)
	case "postalias":
		return postmap.AliasMain(argv[1:], stdin, stdout, stderr)
	case "postsuper":
		return postsuper.Main(argv[1:], stdin, stdout, stderr)
	case "postcat":
		return postsuper.PostcatMain(argv[1:], stdout, stderr)
	case "postqueue":
		return postqueue.Main(argv[1:], stdout, stderr)
	case "postconf":
		return postconf.Main(argv[1:], stdout, stderr)
	}
	// As "postfix" (postfix start, postfix reload, postfix -c DIR check,
	// postfix flush) the commands are tern's own.
	if len(argv) < 2 {
		fmt.Fprint(stderr, usage)
		return 64
	}
	cmd, args := argv[1], argv[2:]
	// "tern -c DIR start", as master's usage and postfix(1) write it.
	if cmd == "-c" && len(argv) >= 4 {
		cmd, args = argv[3], append([]string{"-c", argv[2]}, argv[4:]...)
	}
	switch cmd {
	case "start", "start-fg", "stop", "abort", "reload", "status", "check", "master", "logrotate":
		return master.Main(argv[1:], masterOptions(stdout, stderr))
	case "sendmail", "mailq", "newaliases":
		return sendmailMain(cmd, args, stdin, stdout, stderr)
	case "flush":
		return sendmailMain("sendmail", flushArgs(args), stdin, stdout, stderr)
	case "queue":
		return queueMain(args, stdin, stdout, stderr)
	case "postsuper":
		return postsuper.Main(args, stdin, stdout, stderr)
	case "postcat":
		return postsuper.PostcatMain(args, stdout, stderr)
	case "postqueue":
		return postqueue.Main(args, stdout, stderr)
	case "conf":
		return postconf.Main(args, stdout, stderr)
	case "map":
		return postmap.MapMain(args, stdin, stdout, stderr)
	case "alias":
		return postmap.AliasMain(args, stdin, stdout, stderr)
	case "daemon":
		return daemonMain(args, stderr)
	case "local-helper":
		return local.HelperMain(stdin, stdout)
	case "version", "--version":
		fmt.Fprintf(stdout, "tern %s\n", config.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "tern: unknown command %q\n%s", cmd, usage)
	return 64
}

// daemons returns the daemon commands this build has, by master.cf command.
func daemons() map[string]func(args []string) int {
	return map[string]func(args []string) int{
		"qmgr":    qmgr.Main,
		"local":   local.Main,
		"smtpd":   smtpd.Main,
		"smtp":    smtp.Main,
		"lmtp":    lmtp.Main,
		"virtual": virtual.Main,
		"pipe":    pipe.Main,
		"spawn":   spawn.Main,
	}
}

func daemonMain(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "tern daemon: missing daemon name")
		return 64
	}
	run, ok := daemons()[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tern daemon: unknown daemon %q\n", args[0])
		return 64
	}
	return run(args[1:])
}

func masterOptions(stdout, stderr io.Writer) master.Options {
	have := map[string]bool{}
	for name := range daemons() {
		have[name] = true
	}
	withoutArgs := func(check func(*config.Config, string) error) master.CheckFunc {
		return func(c *config.Config, dir, _ string, _ []string) error { return check(c, dir) }
	}
	checks := map[string]master.CheckFunc{"smtpd": withoutArgs(smtpd.Check), "smtp": withoutArgs(smtp.Check),
		"lmtp": withoutArgs(smtp.CheckLMTP), "virtual": withoutArgs(virtual.Check), "qmgr": withoutArgs(qmgr.Check),
		"pipe":  func(c *config.Config, _, service string, args []string) error { return pipe.Check(c, service, args) },
		"spawn": func(c *config.Config, _, service string, args []string) error { return spawn.Check(c, service, args) }}
	// The delivery agents' status filters are checked too.
	for _, name := range []string{"smtp", "lmtp", "virtual", "pipe", "local"} {
		own := checks[name]
		checks[name] = func(c *config.Config, dir, service string, args []string) error {
			if own != nil {
				if err := own(c, dir, service, args); err != nil {
					return err
				}
			}
			return agent.CheckStatusFilter(c, dir, name)
		}
	}
	return master.Options{Daemons: have, Checks: checks, Stdout: stdout, Stderr: stderr}
}

// queueCommands names the "tern queue" verbs, for usage messages.
const queueCommands = "flush, list, show, delete, hold, release or requeue"

// queueMain runs "tern queue flush" and "tern queue list" (mailq), and the
// superuser's delete, hold, release and requeue (postsuper).
func queueMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "tern queue: need %s\n", queueCommands)
		return 64
	}
	switch args[0] {
	case "flush":
		return sendmailMain("sendmail", flushArgs(args[1:]), stdin, stdout, stderr)
	case "list":
		return sendmailMain("mailq", flushArgs(args[1:])[1:], stdin, stdout, stderr)
	case "show":
		return postsuper.ShowMain(args[1:], stdout, stderr)
	}
	for _, op := range postsuper.Ops() {
		if args[0] == string(op) {
			return postsuper.QueueMain(op, args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "tern queue: unknown command %q: need %s\n", args[0], queueCommands)
	return 64
}

// flushArgs turns "flush [-c DIR]" into sendmail's "-q [-C DIR]".
func flushArgs(args []string) []string {
	out := []string{"-q"}
	for i := 0; i < len(args); i++ {
		if args[i] == "-c" && i+1 < len(args) {
			out = append(out, "-C", args[i+1])
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}
