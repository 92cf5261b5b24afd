package sendmail

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

// DefaultTimeout bounds each read and write on the daemons' sockets when
// Env.Dial is not set.
const DefaultTimeout = 5 * time.Minute

// Env is what the integrator passes in: main.cf values and the process's
// environment. Zero fields get defaults (os.Stdin, os.Stdout, os.Stderr,
// time.Now, ipc.Dial with DefaultTimeout, the hostname, the real uid).
type Env struct {
	QueueDirectory string
	// MyOrigin is accepted for the integrator's convenience but not used:
	// qualifying bare addresses is cleanup's job, and recipients are passed
	// to qmgr as given.
	MyOrigin string
	// MyHostname is the name in the "sendmail -bs" greeting.
	MyHostname string
	// MessageSizeLimit is message_size_limit; 0 means no limit. Larger
	// input is refused as Postfix does: "message file too big", exit 69.
	MessageSizeLimit int64
	// VERPDelimiters and VERPFilter are default_verp_delimiters and
	// verp_delimiter_filter, for -XV ("+=" and "-=+" when empty).
	VERPDelimiters, VERPFilter string
	// LookupConfig reads the configuration in dir for -C; may be nil, and
	// then -C is refused. Only its configuration fields are used.
	LookupConfig func(dir string) (Env, error)
	Stdin        io.Reader
	Stdout       io.Writer
	Stderr       io.Writer
	Now          func() time.Time
	// Newaliases rebuilds the alias database for -bi, -I and newaliases.
	// args are the alias maps named with -oA (usually none: then it uses
	// alias_database). It returns the exit code. May be nil.
	Newaliases func(args []string) int
	// Dial connects to a daemon's socket.
	Dial func(path string) (*ipc.Conn, error)
	// Whoami returns the login name and uid of the user, for messages only
	// (qmgr learns the uid from the kernel).
	Whoami func() (login string, uid int)
}

func (e Env) withDefaults() Env {
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Dial == nil {
		e.Dial = func(path string) (*ipc.Conn, error) { return ipc.Dial(path, DefaultTimeout) }
	}
	if e.Whoami == nil {
		e.Whoami = whoami
	}
	if e.MyHostname == "" {
		e.MyHostname, _ = os.Hostname()
	}
	if e.MyHostname == "" {
		e.MyHostname = "localhost"
	}
	return e
}

// whoami is the default Env.Whoami.
func whoami() (string, int) {
	uid := os.Getuid()
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username, uid
	}
	return strconv.Itoa(uid), uid
}

// exitError ends the command: "PROG: fatal: msg" on stderr (after an
// optional "PROG: detail" line) and the exit code.
type exitError struct {
	code   int
	detail string
	msg    string
}

func (e *exitError) Error() string { return e.msg }

func fatal(code int, format string, a ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, a...)}
}

// runner is one invocation.
type runner struct {
	prog string
	env  Env
}

// Main runs sendmail, mailq or newaliases and returns the exit status.
// argv0's base name picks the default mode ("mailq", "newaliases",
// anything else is sendmail); args excludes argv0.
func Main(argv0 string, args []string, env Env) int {
	prog := filepath.Base(argv0)
	if argv0 == "" || prog == "." || prog == "/" {
		prog = "sendmail"
	}
	r := &runner{prog: prog, env: env.withDefaults()}
	return r.exit(r.run(args))
}

// exit reports err on stderr, as sendmail does, and returns the exit
// status it stands for.
func (r *runner) exit(err error) int {
	if err == nil {
		return ExOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{code: ExSoftware, msg: err.Error()}
	}
	if ee.detail != "" {
		fmt.Fprintf(r.env.Stderr, "%s: %s\n", r.prog, ee.detail)
	}
	if ee.msg != "" {
		fmt.Fprintf(r.env.Stderr, "%s: fatal: %s\n", r.prog, ee.msg)
	}
	return ee.code
}

func (r *runner) warnf(format string, a ...any) {
	fmt.Fprintf(r.env.Stderr, "%s: warning: %s\n", r.prog, fmt.Sprintf(format, a...))
}

func (r *runner) run(args []string) error {
	o, err := parseOptions(r.prog, args)
	if err != nil {
		return err
	}
	for _, w := range o.warnings {
		r.warnf("%s", w)
	}
	if o.configDir != "" {
		if err := r.loadConfig(o.configDir); err != nil {
			return err
		}
	}
	if o.qtime && o.mode != modeDaemon {
		return nil // "-q1h": Postfix does nothing; qmgr schedules itself
	}
	switch o.mode {
	case modeIgnore:
		return nil
	case modeDaemon:
		return fatal(ExUsage, "daemon mode (-bd, -bl) is not supported by sendmail: start the mail system with the tern master daemon")
	case modeMailq:
		return r.mailq()
	case modeNewaliases:
		return r.newaliases(o)
	case modeFlush:
		return r.flush(o)
	case modeSMTP:
		return r.smtp()
	}
	if o.flushSite != "" || o.flushID != "" {
		return r.flush(o)
	}
	return r.enqueue(o)
}

// loadConfig applies -C: the configuration fields of the Env that
// LookupConfig returns replace ours.
func (r *runner) loadConfig(dir string) error {
	if r.env.LookupConfig == nil {
		return fatal(ExUsage, "-C %s: alternate configuration directories are not supported here", dir)
	}
	c, err := r.env.LookupConfig(dir)
	if err != nil {
		return fatal(ExConfig, "read configuration in %s: %v", dir, err)
	}
	r.env.QueueDirectory = c.QueueDirectory
	r.env.MyOrigin = c.MyOrigin
	r.env.MessageSizeLimit = c.MessageSizeLimit
	if c.MyHostname != "" {
		r.env.MyHostname = c.MyHostname
	}
	return nil
}

// newaliases delegates -bi to the integrator.
func (r *runner) newaliases(o *options) error {
	if r.env.Newaliases == nil {
		return fatal(ExUnavailable, "alias database initialization is not available")
	}
	if code := r.env.Newaliases(o.aliasMaps); code != 0 {
		return &exitError{code: code} // the delegate has said why
	}
	return nil
}
