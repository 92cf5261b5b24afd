package sendmail

import (
	"fmt"
	"strings"
)

// optString is Postfix sendmail's getopt(3) option string: a letter
// followed by ':' takes an argument, either attached (-fuser) or as the next
// word (-f user).
const optString = "A:B:C:F:GIL:N:O:R:UV:X:b:ce:f:h:imno:p:r:q:tvx"

// getopt is a POSIX getopt(3) over an argument list (without the program
// name). Like getopt with a leading '+' (which Postfix uses on Linux) it
// stops at the first word that is not an option, at "--" (which it
// consumes) and at "-" alone; it never permutes the arguments.
type getopt struct {
	args []string
	spec string
	ind  int // index of the word being scanned
	pos  int // position inside args[ind]; 0 means start a new word
}

// option is one parsed option.
type option struct {
	name byte
	arg  string
}

func newGetopt(args []string, spec string) *getopt {
	return &getopt{args: args, spec: spec}
}

// peek returns the next unscanned word when the scanner sits between
// words, so that callers can treat a few words specially before getopt sees
// them (Postfix does this for "-q" and "-V xy").
func (g *getopt) peek() (string, bool) {
	if g.pos != 0 || g.ind >= len(g.args) {
		return "", false
	}
	return g.args[g.ind], true
}

// skip consumes the word that peek returned.
func (g *getopt) skip() { g.ind++ }

// rest returns the operands: the words after the options.
func (g *getopt) rest() []string { return g.args[g.ind:] }

// next returns the next option. done is true at the end of the options;
// err reports an unknown option or a missing argument.
func (g *getopt) next() (opt option, done bool, err error) {
	if g.pos == 0 {
		if g.ind >= len(g.args) {
			return option{}, true, nil
		}
		w := g.args[g.ind]
		if w == "--" {
			g.ind++
			return option{}, true, nil
		}
		if len(w) < 2 || w[0] != '-' {
			return option{}, true, nil
		}
		g.pos = 1
	}
	w := g.args[g.ind]
	c := w[g.pos]
	g.pos++
	i := strings.IndexByte(g.spec, c)
	if c == ':' || i < 0 {
		g.advanceIfDone(w)
		return option{}, false, fmt.Errorf("invalid option -- '%s'", printable(c))
	}
	if i+1 >= len(g.spec) || g.spec[i+1] != ':' {
		g.advanceIfDone(w)
		return option{name: c}, false, nil
	}
	if g.pos < len(w) {
		arg := w[g.pos:]
		g.ind++
		g.pos = 0
		return option{name: c, arg: arg}, false, nil
	}
	g.ind++
	g.pos = 0
	if g.ind >= len(g.args) {
		return option{}, false, fmt.Errorf("option requires an argument -- '%s'", printable(c))
	}
	arg := g.args[g.ind]
	g.ind++
	return option{name: c, arg: arg}, false, nil
}

func (g *getopt) advanceIfDone(w string) {
	if g.pos >= len(w) {
		g.ind++
		g.pos = 0
	}
}

// printable renders an option byte for an error message.
func printable(c byte) string {
	if c < 0x20 || c >= 0x7f {
		return fmt.Sprintf("\\x%02x", c)
	}
	return string(c)
}
