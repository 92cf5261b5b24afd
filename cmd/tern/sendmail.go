package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/postmap"
	"github.com/tern-mta/tern/pkg/sendmail"
)

// exTempFail is sysexits.h's EX_TEMPFAIL: a caller such as cron or a web
// application may try again later.
const exTempFail = 75

// sendmailMain runs sendmail, mailq or newaliases with main.cf from
// MAIL_CONFIG (or /etc/tern).
func sendmailMain(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if prog == "newaliases" {
		return postmap.NewaliasesMain(args, stdout, stderr)
	}
	// -C names the configuration: read it, not the default one, so that a
	// broken default main.cf does not stop "sendmail -C other".
	dir := config.Dir(configFlag(args))
	env, err := sendmailEnv(dir)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return exTempFail
	}
	env.Stdin, env.Stdout, env.Stderr = stdin, stdout, stderr
	env.LookupConfig = sendmailEnv
	env.Newaliases = func(maps []string) int {
		return postmap.NewaliasesMain([]string{"-c", dir}, stdout, stderr)
	}
	return sendmail.Main(prog, args, env)
}

func sendmailEnv(dir string) (sendmail.Env, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return sendmail.Env{}, err
	}
	return sendmail.Env{
		QueueDirectory:   cfg.Get("queue_directory"),
		MyOrigin:         cfg.Get("myorigin"),
		MyHostname:       cfg.Get("myhostname"),
		MessageSizeLimit: cfg.Int64("message_size_limit"),
	}, nil
}

// optionsWithArgument are sendmail's options that take an argument (as in
// Postfix's option string), other than -C.
const optionsWithArgument = "ABFLNORVXbefhopr"

// configFlag returns the directory of sendmail's -C option ("-C dir" or
// "-Cdir") among the options before the first recipient, or "".
func configFlag(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || !strings.HasPrefix(a, "-"):
			return ""
		case a == "-C" && i+1 < len(args):
			return args[i+1]
		case strings.HasPrefix(a, "-C") && len(a) > 2:
			return a[2:]
		case len(a) == 2 && strings.ContainsRune(optionsWithArgument, rune(a[1])):
			i++ // skip the option's argument, e.g. "-f sender"
		}
	}
	return ""
}
