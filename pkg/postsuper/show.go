package postsuper

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/ipc"
)

// ShowqSocket is the socket qmgr shows messages on, relative to
// queue_directory (the socket of mailq).
const ShowqSocket = "public/showq"

// showParts selects what "show" prints.
type showParts struct{ envelope, header, body bool }

// all is true when no part was asked for: everything is printed.
func (p showParts) all() bool { return !p.envelope && !p.header && !p.body }

// ShowMain runs "tern queue show [-c dir] [-e] [-h] [-b] id...": the
// envelope and content of queued messages, as postcat -q prints them.
func ShowMain(args []string, stdout, stderr io.Writer) int {
	return showMain("tern queue show", args, false, stdout, stderr)
}

// PostcatMain runs the postcat(1) work-alike: "postcat [-c dir] [-ebhv]
// -q id...". tern's queue is a database, so only -q is supported.
func PostcatMain(args []string, stdout, stderr io.Writer) int {
	return showMain("postcat", args, true, stdout, stderr)
}

func showMain(prog string, args []string, postcat bool, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet(prog, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var dir string
	var parts showParts
	var byID bool
	fs.StringVarP(&dir, "config", "c", "", "")
	fs.BoolVarP(&parts.envelope, "envelope", "e", false, "")
	fs.BoolVarP(&parts.header, "header", "h", false, "")
	fs.BoolVarP(&parts.body, "body", "b", false, "")
	fs.CountP("verbose", "v", "")
	fs.BoolVarP(&byID, "queue", "q", false, "")
	usage := fmt.Sprintf("usage: %s [-c config_dir] [-ebh] queue_id ...", prog)
	if postcat {
		usage = "usage: postcat [-c config_dir] [-ebhv] -q queue_id ..."
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "%s: fatal: "+format+"\n", append([]any{prog}, a...)...)
		return 1
	}
	if err := fs.Parse(args); err != nil || fs.NArg() == 0 {
		return fail("%s", usage)
	}
	if postcat && !byID {
		return fail("tern's queue is a database, not files: name messages by queue id with -q")
	}
	cfg, err := config.Load(config.Dir(dir))
	if err != nil {
		return fail("%v", err)
	}
	socket := filepath.Join(cfg.Get("queue_directory"), ShowqSocket)
	for _, id := range fs.Args() {
		if err := show(socket, id, parts, stdout); err != nil {
			return fail("%v", err)
		}
	}
	return 0
}

// show asks qmgr for one message and prints the parts asked for.
func show(socket, id string, parts showParts, w io.Writer) error {
	if !ValidID(id) {
		return fmt.Errorf("invalid queue id %q", id)
	}
	c, err := ipc.Dial(socket, requestTimeout)
	if err != nil {
		return fmt.Errorf("cannot reach the queue manager (is the mail system running?): %w", err)
	}
	defer c.Close()
	reply, err := c.Call(ipc.Record{{Name: AttrRequest, Value: "show"}, {Name: AttrID, Value: id}})
	if err != nil {
		return fmt.Errorf("queue manager: %w", err)
	}
	if reply.Get(AttrStatus) != "ok" {
		return errors.New(reply.Get(AttrText))
	}
	return filterParts(c.BodyReader(), parts, w)
}

// filterParts copies qmgr's postcat text, keeping the parts asked for:
// the envelope records, the header or the body of the content.
func filterParts(r io.Reader, parts showParts, w io.Writer) error {
	bw := bufio.NewWriter(w)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	section := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "*** ") && strings.HasSuffix(line, " ***") {
			switch {
			case strings.HasPrefix(line, "*** ENVELOPE RECORDS"):
				section = "envelope"
			case strings.HasPrefix(line, "*** MESSAGE CONTENTS"):
				section = "header"
			default:
				section = "end"
			}
			if parts.all() || section == "envelope" && parts.envelope || section != "envelope" && (parts.header || parts.body) {
				fmt.Fprintln(bw, line)
			}
			continue
		}
		keep := parts.all() || section == "envelope" && parts.envelope ||
			section == "header" && parts.header || section == "body" && parts.body
		if keep {
			fmt.Fprintln(bw, line)
		}
		if section == "header" && line == "" {
			section = "body"
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read from the queue manager: %w", err)
	}
	return bw.Flush()
}
