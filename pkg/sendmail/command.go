package sendmail

import (
	"fmt"
	"io"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// Command runs sendmail, mailq or newaliases (prog) as a program does:
// main.cf comes from the -C option, MAIL_CONFIG or /etc/tern. newaliases
// runs the alias rebuild: with args as given under the newaliases name,
// with "-c DIR" for sendmail's -bi and -I. A configuration that can't be
// read exits with EX_TEMPFAIL, so that a caller such as cron or a web
// application tries again later.
func Command(prog string, args []string, stdin io.Reader, stdout, stderr io.Writer, newaliases func(args []string) int) int {
	if prog == "newaliases" {
		return newaliases(args)
	}
	// -C names the configuration: read it, not the default one, so that a
	// broken default main.cf does not stop "sendmail -C other".
	dir := config.Dir(configFlag(args))
	env, err := EnvFromConfig(dir)
	if err != nil {
		fmt.Fprintf(stderr, "%s: fatal: %v\n", prog, err)
		return ExTempFail
	}
	env.Stdin, env.Stdout, env.Stderr = stdin, stdout, stderr
	env.LookupConfig = EnvFromConfig
	env.Newaliases = func([]string) int { return newaliases([]string{"-c", dir}) }
	return Main(prog, args, env)
}

// EnvFromConfig returns the Env of the configuration in dir: the queue
// directory, myorigin, myhostname, message_size_limit and the VERP
// delimiters of its main.cf.
func EnvFromConfig(dir string) (Env, error) {
	cfg, err := config.Load(dir)
	if err != nil {
		return Env{}, err
	}
	return Env{
		QueueDirectory:   cfg.Get("queue_directory"),
		MyOrigin:         cfg.Get("myorigin"),
		MyHostname:       cfg.Get("myhostname"),
		MessageSizeLimit: cfg.Int64("message_size_limit"),
		VERPDelimiters:   cfg.Get("default_verp_delimiters"),
		VERPFilter:       cfg.Get("verp_delimiter_filter"),
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
