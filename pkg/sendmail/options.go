package sendmail

import (
	"path"
	"strings"
)

// mode is what one invocation does.
type mode int

// Modes of operation, as in Postfix sendmail.
const (
	modeEnqueue    mode = iota // read a message and submit it (-bm, default)
	modeMailq                  // show the queue (-bp, mailq)
	modeNewaliases             // rebuild the alias database (-bi, -I, newaliases)
	modeFlush                  // flush the queue (-q)
	modeSMTP                   // SMTP on stdin/stdout (-bs)
	modeDaemon                 // -bd, -bl: not supported
	modeIgnore                 // -bh, -bH: do nothing
)

// options is the parsed command line.
type options struct {
	mode       mode
	extract    bool // -t
	ignoreDots bool // -i, -oi
	senderSet  bool // -f or -r given
	sender     string
	fullname   string // -F
	notify     string // -N, normalized: NEVER or SUCCESS,DELAY,FAILURE
	ret        string // -R, normalized: FULL or HDRS
	envid      string // -V
	verpSet    bool   // -XV, or -V with two VERP delimiters
	verp       string // the delimiters given, "" for default_verp_delimiters
	verpFlag   string // the form used, for messages: "-XV" or "-V"
	smtputf8   bool   // -SMTPUTF8
	verbose    int    // number of -v
	verify     bool   // -bv
	qtime      bool   // -q with an interval
	flushSite  string // -qR
	flushID    string // -qI
	configDir  string // -C
	aliasMaps  []string
	args       []string // recipients (or other operands)
	warnings   []string
}

// usageText is the usage line, after "PROG: fatal: ".
func usageText(prog string) string {
	return "usage: " + prog + " [options] [recipient ...]"
}

// parseOptions parses a command line (without argv[0]) the way Postfix
// sendmail does. prog is argv[0]'s base name, which picks the default mode.
func parseOptions(prog string, args []string) (*options, error) {
	o := &options{mode: modeEnqueue}
	switch prog {
	case "mailq":
		o.mode = modeMailq
	case "newaliases":
		o.mode = modeNewaliases
	}
	g := newGetopt(args, optString)
	// Every round consumes at least one byte of the arguments.
	bound := len(args) + 1
	for _, a := range args {
		bound += len(a)
	}
	for n := 0; n < bound; n++ {
		if o.special(g) {
			continue
		}
		opt, done, err := g.next()
		if err != nil {
			return nil, &exitError{code: ExUsage, detail: err.Error(), msg: usageText(prog)}
		}
		if done {
			break
		}
		if err := o.apply(opt); err != nil {
			return nil, err
		}
	}
	o.args = g.rest()
	return o, o.check()
}

// special handles the words that Postfix treats before getopt: "-q" alone
// (getopt would demand an argument), -SMTPUTF8 and the deprecated VERP
// forms of -V.
func (o *options) special(g *getopt) bool {
	w, ok := g.peek()
	if !ok {
		return false
	}
	switch {
	case w == "-q":
		if o.mode == modeDaemon {
			o.warn("ignoring -q option in daemon mode")
		} else {
			o.mode = modeFlush
		}
	case w == "-XV":
		o.setVERP("-XV", "")
	case w == "-SMTPUTF8":
		o.smtputf8 = true
	case len(w) == 4 && strings.HasPrefix(w, "-V"):
		o.setVERP("-V", w[2:])
	case w == "-V" && g.ind+1 < len(g.args) && len(g.args[g.ind+1]) == 2:
		o.setVERP("-V", g.args[g.ind+1])
		g.skip()
	default:
		return false
	}
	g.skip()
	return true
}

func (o *options) warn(msg string) { o.warnings = append(o.warnings, msg) }

// setVERP records a request for VERP with the form of the option used
// and its delimiters ("" for default_verp_delimiters).
func (o *options) setVERP(flag, delims string) {
	o.verpSet, o.verpFlag, o.verp = true, flag, delims
}

// apply records one option.
func (o *options) apply(opt option) error {
	switch opt.name {
	case 'n':
		return fatal(ExUsage, "-n option not supported")
	case 'B':
		if opt.arg != "8BITMIME" && opt.arg != "7BIT" {
			return fatal(ExUsage, "-B option needs 8BITMIME or 7BIT")
		}
	case 'C':
		o.configDir = opt.arg
		if path.Base(opt.arg) == "main.cf" {
			o.configDir = path.Dir(opt.arg)
		}
	case 'F':
		o.fullname = opt.arg
	case 'I':
		o.mode = modeNewaliases
	case 'N':
		o.notify = normalizeNotify(opt.arg)
		if o.notify == "" {
			o.warn("bad -N option value -- ignored")
		}
	case 'R':
		o.ret = normalizeRet(opt.arg)
		if o.ret == "" {
			o.warn("bad -R option value -- ignored")
		}
	case 'V':
		o.applyEnvID(opt.arg)
	case 'X':
		if !strings.HasPrefix(opt.arg, "V") {
			return fatal(ExUsage, "unsupported: -X%s", firstChar(opt.arg))
		}
		o.setVERP("-XV", opt.arg[1:])
	case 'b':
		return o.applyMode(opt.arg)
	case 'f', 'r':
		o.sender, o.senderSet = opt.arg, true
	case 'i':
		o.ignoreDots = true
	case 'o':
		return o.applyO(opt.arg)
	case 'q':
		return o.applyQ(opt.arg)
	case 't':
		o.extract = true
	case 'v':
		o.verbose++
	}
	// A, G, L, O, U, c, e, h, m, p, x: accepted and ignored, as Postfix does.
	return nil
}

func firstChar(s string) string {
	if s == "" {
		return ""
	}
	return printable(s[0])
}

func (o *options) applyEnvID(v string) {
	switch {
	case len(v) > 100:
		o.warn("too long -V option value -- ignored")
	case !allPrint(v):
		o.warn("bad syntax in -V option value -- ignored")
	default:
		o.envid = v
	}
}

func allPrint(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// applyMode handles -bX.
func (o *options) applyMode(arg string) error {
	switch firstChar(arg) {
	case "d", "l":
		if o.mode == modeFlush {
			o.warn("ignoring -q option in daemon mode")
		}
		o.mode = modeDaemon
	case "h", "H":
		o.mode = modeIgnore
	case "i":
		o.mode = modeNewaliases
	case "m":
		o.mode = modeEnqueue
	case "p":
		o.mode = modeMailq
	case "s":
		o.mode = modeSMTP
	case "v":
		o.verify = true
	default:
		return fatal(ExUsage, "unsupported: -b%s", firstChar(arg))
	}
	return nil
}

// applyO handles -oX: only -oi and -oA mean something; the rest of
// sendmail's -o options are accepted and ignored, as Postfix does.
func (o *options) applyO(arg string) error {
	switch firstChar(arg) {
	case "i":
		o.ignoreDots = true
	case "A":
		if len(arg) < 2 {
			return fatal(ExUsage, "-oA requires pathname")
		}
		o.aliasMaps = append(o.aliasMaps, arg[1:])
	}
	return nil
}

// applyQ handles -qX (with an argument; "-q" alone is special).
func (o *options) applyQ(arg string) error {
	switch {
	case arg != "" && arg[0] >= '0' && arg[0] <= '9':
		o.qtime = true
	case strings.HasPrefix(arg, "R"):
		if o.flushSite = arg[1:]; o.flushSite == "" {
			return fatal(ExUsage, "specify: -qRsitename")
		}
	case strings.HasPrefix(arg, "I"):
		if o.flushID = arg[1:]; o.flushID == "" {
			return fatal(ExUsage, "specify: -qIqueueid")
		}
	default:
		return fatal(ExUsage, "-q%s is not implemented", firstChar(arg))
	}
	return nil
}

// check rejects conflicting options and arguments.
func (o *options) check() error {
	if o.extract && o.mode != modeEnqueue {
		return fatal(ExUsage, "-t can be used only in delivery mode")
	}
	if o.flushSite != "" && o.mode != modeEnqueue {
		return fatal(ExUsage, "-qR can be used only in delivery mode")
	}
	if o.flushID != "" && o.mode != modeEnqueue {
		return fatal(ExUsage, "-qI can be used only in delivery mode")
	}
	if o.verify && o.extract {
		return fatal(ExUsage, "-t cannot be used with -bv: the recipients are given on the command line")
	}
	if len(o.args) == 0 {
		return nil
	}
	switch {
	case o.mode == modeMailq:
		return fatal(ExUsage, "display queue mode requires no recipient")
	case o.mode == modeFlush:
		return fatal(ExUsage, "flush queue mode requires no recipient")
	case o.mode == modeNewaliases:
		return fatal(ExUsage, "alias initialization mode requires no recipient")
	case o.mode == modeSMTP:
		return fatal(ExUsage, "stand-alone mode requires no recipient")
	case o.mode == modeDaemon:
		return fatal(ExUsage, "daemon mode requires no recipient")
	case o.flushSite != "":
		return fatal(ExUsage, "flush site requires no recipient")
	case o.flushID != "":
		return fatal(ExUsage, "flush queue_id requires no recipient")
	}
	return nil
}

// normalizeNotify validates a -N value (RFC 3461 NOTIFY: "never" or a list
// of success, delay, failure separated by commas or spaces) and returns it
// upper-cased and comma-separated, or "" when it is invalid.
func normalizeNotify(v string) string {
	words := strings.FieldsFunc(strings.ToUpper(v), func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t'
	})
	var out []string
	never := false
	for _, w := range words {
		switch w {
		case "NEVER":
			never = true
		case "SUCCESS", "DELAY", "FAILURE":
		default:
			return ""
		}
		out = append(out, w)
	}
	if len(out) == 0 || (never && len(out) > 1) {
		return ""
	}
	return strings.Join(out, ",")
}

// normalizeRet validates a -R value and returns FULL or HDRS, or "".
func normalizeRet(v string) string {
	switch strings.ToUpper(v) {
	case "FULL":
		return "FULL"
	case "HDRS":
		return "HDRS"
	}
	return ""
}
