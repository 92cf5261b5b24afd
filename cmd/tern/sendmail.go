package main

import (
	"fmt"
	"io"

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
	env, err := sendmailEnv(config.Dir(""))
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return exTempFail
	}
	env.Stdin, env.Stdout, env.Stderr = stdin, stdout, stderr
	env.LookupConfig = sendmailEnv
	env.Newaliases = func(maps []string) int {
		return postmap.NewaliasesMain(nil, stdout, stderr)
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
