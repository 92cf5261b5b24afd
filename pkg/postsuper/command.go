package postsuper

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/ipc"
)

// QmgrSocket is the socket qmgr serves these requests on, relative to
// queue_directory.
const QmgrSocket = "public/qmgr"

// requestTimeout bounds each read and write of a request: deleting a
// large queue takes a while before qmgr answers.
const requestTimeout = 10 * time.Minute

// task is what one command line asks for.
type task struct {
	configDir string
	ops       map[Op][]string // queue ids per operation; "ALL" for all
	queues    []string
}

// command is one run, with its name for messages and its streams.
type command struct {
	prog   string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// Main runs the postsuper(1) work-alike: "postsuper [-c dir] [-d id]
// [-h id] [-H id] [-r id] [-psSv] [queue ...]". It returns the exit
// status: 0 on success, 1 on an error, as Postfix's.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &command{prog: "postsuper", stdin: stdin, stdout: stdout, stderr: stderr}
	t, err := c.parsePostsuper(args)
	if err == nil {
		err = c.run(t)
	}
	return c.exit(err)
}

// QueueMain runs "tern queue OP [-c dir] [id | ALL | -]... [queue]...",
// the same operations with one verb per command line: arguments that name
// a queue select queues, the others are queue ids.
func QueueMain(op Op, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &command{prog: "tern queue " + string(op), stdin: stdin, stdout: stdout, stderr: stderr}
	t, err := c.parseQueue(op, args)
	if err == nil {
		err = c.run(t)
	}
	return c.exit(err)
}

func (c *command) exit(err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(c.stderr, "%s: fatal: %v\n", c.prog, err)
	return 1
}

// parsePostsuper reads postsuper's options; trailing arguments are queue
// names.
func (c *command) parsePostsuper(args []string) (task, error) {
	fs := pflag.NewFlagSet(c.prog, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	t := task{ops: map[Op][]string{}}
	var del, hold, release, requeue []string
	var structure, purge, shared bool
	fs.StringVarP(&t.configDir, "config", "c", "", "")
	fs.StringArrayVarP(&del, "delete", "d", nil, "")
	fs.StringArrayVarP(&hold, "hold", "h", nil, "")
	fs.StringArrayVarP(&release, "release", "H", nil, "")
	fs.StringArrayVarP(&requeue, "requeue", "r", nil, "")
	fs.BoolVarP(&structure, "structure", "s", false, "")
	fs.BoolVarP(&purge, "purge", "p", false, "")
	fs.BoolVarP(&shared, "shared", "S", false, "")
	fs.CountP("verbose", "v", "") // accepted; tern has no extra output
	if err := fs.Parse(args); err != nil {
		return t, fmt.Errorf("%v; usage: %s [-c config_dir] [-d queue_id] [-h queue_id] [-H queue_id] [-r queue_id] [-psSv] [queue ...]", err, c.prog)
	}
	if structure || purge || shared {
		// Postfix's structure checks and temporary-file purges have no
		// work here: qmgr checks the queue database at every start.
		fmt.Fprintf(c.stderr, "%s: warning: -s, -S and -p have nothing to do: qmgr checks and repairs the queue at each start\n", c.prog)
	}
	for op, ids := range map[Op][]string{Delete: del, Hold: hold, Release: release, Requeue: requeue} {
		if len(ids) > 0 {
			t.ops[op] = ids
		}
	}
	t.queues = fs.Args()
	if len(t.ops) == 0 && !structure && !purge && !shared {
		return t, errors.New("usage: " + c.prog + " [-c config_dir] [-d queue_id] [-h queue_id] [-H queue_id] [-r queue_id] [-psSv] [queue ...]")
	}
	return t, c.checkQueues(t.queues)
}

// parseQueue reads "tern queue OP" arguments.
func (c *command) parseQueue(op Op, args []string) (task, error) {
	fs := pflag.NewFlagSet(c.prog, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	t := task{ops: map[Op][]string{}}
	fs.StringVarP(&t.configDir, "config", "c", "", "")
	if err := fs.Parse(args); err != nil {
		return t, fmt.Errorf("%v; usage: %s [-c config_dir] queue_id|ALL|- ... [queue ...]", err, c.prog)
	}
	for _, a := range fs.Args() {
		if ValidQueue(a) || a == "maildrop" {
			t.queues = append(t.queues, a)
			continue
		}
		t.ops[op] = append(t.ops[op], a)
	}
	if len(t.ops[op]) == 0 {
		return t, fmt.Errorf("usage: %s [-c config_dir] queue_id|ALL|- ... [queue ...]", c.prog)
	}
	return t, c.checkQueues(t.queues)
}

func (c *command) checkQueues(names []string) error {
	for _, q := range names {
		if !ValidQueue(q) {
			return fmt.Errorf("unknown queue %q: name hold, incoming, active, deferred or corrupt", q)
		}
	}
	return nil
}

// run sends each operation of t to qmgr, in the order of Ops, and prints
// postsuper's summary of each.
func (c *command) run(t task) error {
	if len(t.ops) == 0 {
		return nil
	}
	cfg, err := config.Load(config.Dir(t.configDir))
	if err != nil {
		return err
	}
	socket := filepath.Join(cfg.Get("queue_directory"), QmgrSocket)
	for _, op := range Ops() {
		args, ok := t.ops[op]
		if !ok {
			continue
		}
		all, ids, err := c.expand(args)
		if err != nil {
			return err
		}
		done, notFound, err := send(socket, op, t.queues, all, ids)
		if err != nil {
			return err
		}
		c.summary(op, done, notFound)
	}
	return nil
}

// expand turns the arguments of one operation into "all" or a list of
// ids: "ALL" (upper case only, as a safety measure), "-" for ids read
// from standard input, and ids. Invalid ids are warned about and skipped.
func (c *command) expand(args []string) (all bool, ids []string, err error) {
	for _, a := range args {
		switch a {
		case "ALL":
			all = true
		case "-":
			if ids, err = c.readIDs(ids); err != nil {
				return false, nil, err
			}
		default:
			ids = c.addID(ids, a)
		}
	}
	if all {
		return true, nil, nil
	}
	return false, ids, nil
}

// readIDs adds the ids on standard input, one per line or separated by
// white space; mailq's status marks (* and !) are taken off.
func (c *command) readIDs(ids []string) ([]string, error) {
	sc := bufio.NewScanner(c.stdin)
	sc.Buffer(make([]byte, 4096), 1<<20)
	for sc.Scan() {
		for _, w := range strings.Fields(sc.Text()) {
			ids = c.addID(ids, strings.TrimRight(w, "*!"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read queue ids: %w", err)
	}
	return ids, nil
}

func (c *command) addID(ids []string, id string) []string {
	if !ValidID(id) {
		fmt.Fprintf(c.stderr, "%s: warning: invalid mail queue id: %q\n", c.prog, id)
		return ids
	}
	return append(ids, id)
}

// summary prints postsuper's count line for op, and how many ids named
// no message in the queues.
func (c *command) summary(op Op, done, notFound int) {
	what := map[Op]string{Delete: "Deleted", Hold: "Placed on hold", Release: "Released from hold", Requeue: "Requeued"}[op]
	fmt.Fprintf(c.stderr, "%s: %s: %d message%s\n", c.prog, what, done, plural(done))
	if notFound > 0 {
		fmt.Fprintf(c.stderr, "%s: %d queue id%s not found in the queues named\n", c.prog, notFound, plural(notFound))
	}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// send asks qmgr to apply op, in requests of at most MaxIDs ids, and
// adds up the counts of the replies.
func send(socket string, op Op, queues []string, all bool, ids []string) (done, notFound int, err error) {
	if !all && len(ids) == 0 {
		return 0, 0, nil
	}
	for first := true; first || len(ids) > 0; first = false {
		n := min(len(ids), MaxIDs)
		d, m, err := sendOne(socket, op, queues, all, ids[:n])
		if err != nil {
			return done, notFound, err
		}
		done, notFound, ids = done+d, notFound+m, ids[n:]
	}
	return done, notFound, nil
}

// sendOne makes one request.
func sendOne(socket string, op Op, queues []string, all bool, ids []string) (done, notFound int, err error) {
	c, err := ipc.Dial(socket, requestTimeout)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot reach the queue manager (is the mail system running?): %w", err)
	}
	defer c.Close()
	req := ipc.Record{{Name: AttrRequest, Value: string(op)}}
	for _, q := range queues {
		req = req.Add(AttrQueue, q)
	}
	if all {
		req = req.Add(AttrAll, "yes")
	}
	for _, id := range ids {
		req = req.Add(AttrID, id)
	}
	reply, err := c.Call(req)
	if err != nil {
		return 0, 0, fmt.Errorf("queue manager: %w", err)
	}
	if reply.Get(AttrStatus) != "ok" {
		text := reply.Get(AttrText)
		if text == "" {
			text = "request refused"
		}
		return 0, 0, errors.New(text)
	}
	done, err1 := strconv.Atoi(reply.Get(AttrDone))
	notFound, err2 := strconv.Atoi(reply.Get(AttrMissing))
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("malformed reply from the queue manager: %v", reply)
	}
	return done, notFound, nil
}
