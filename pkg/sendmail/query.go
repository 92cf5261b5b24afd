package sendmail

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/tern-mta/tern/pkg/ipc"
)

// mailq prints the queue report that qmgr's showq service formats.
func (r *runner) mailq() error { return r.queueReport("") }

// MailqJSON prints the queue as postqueue -j does: one JSON object per
// message. It returns the exit status, having said why on env.Stderr.
func MailqJSON(prog string, env Env) int {
	r := &runner{prog: prog, env: env.withDefaults()}
	return r.exit(r.queueReport(FormatJSON))
}

// queueReport asks showq for the report in format ("" for text) and
// copies it to stdout.
func (r *runner) queueReport(format string) error {
	const down = "Queue report unavailable - mail system is down"
	c, err := r.env.Dial(filepath.Join(r.env.QueueDirectory, ShowqSocket))
	if err != nil {
		return fatal(ExUnavailable, "%s", down)
	}
	defer c.Close()
	req := ipc.Record{{Name: AttrRequest, Value: RequestShowq}}
	if format != "" {
		req = append(req, ipc.Attr{Name: AttrFormat, Value: format})
	}
	reply, err := c.Call(req)
	if err != nil {
		return fatal(ExUnavailable, "%s", down)
	}
	if err := replyError(reply); err != nil {
		return err
	}
	if _, err := io.Copy(r.env.Stdout, c.BodyReader()); err != nil {
		return fatal(ExIOErr, "queue report: %v", err)
	}
	return nil
}

// flush asks qmgr to attempt delivery of everything queued now (-q), or,
// with -qR site, of the deferred mail for that domain and its subdomains,
// or, with -qI, of one message.
func (r *runner) flush(o *options) error {
	const down = "Cannot flush mail queue - mail system is down"
	c, err := r.env.Dial(filepath.Join(r.env.QueueDirectory, QmgrSocket))
	if err != nil {
		return fatal(ExUnavailable, "%s", down)
	}
	defer c.Close()
	req := ipc.Record{{Name: AttrRequest, Value: RequestFlush}}
	if o.flushSite != "" {
		req = append(req, ipc.Attr{Name: AttrSite, Value: o.flushSite})
	}
	if o.flushID != "" {
		req = append(req, ipc.Attr{Name: AttrID, Value: o.flushID})
	}
	reply, err := c.Call(req)
	if err != nil {
		return fatal(ExUnavailable, "%s", down)
	}
	return replyError(reply)
}

// replyError turns a status=error reply into an exitError; nil for ok.
func replyError(reply ipc.Record) error {
	switch reply.Get(AttrStatus) {
	case StatusOK:
		return nil
	case StatusError:
		code, ok := parseExitCode(reply.Get(AttrCode))
		if !ok {
			code = ExSoftware
		}
		text := reply.Get(AttrText)
		if text == "" {
			text = "request failed"
		}
		return &exitError{code: code, msg: text}
	}
	return fatal(ExSoftware, "malformed reply from the mail system: %s", fmt.Sprint(reply))
}
