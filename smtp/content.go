package smtp

import (
	"fmt"
	"io"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/message"
)

// smtpChecks are Postfix's smtp_header_checks, smtp_mime_header_checks,
// smtp_nested_header_checks and smtp_body_checks: header_checks(5)
// tables applied while mail goes out, with the actions that change
// neither the delivery nor its time (DUNNO, IGNORE, STRIP, PREPEND,
// REPLACE, WARN, INFO).
type smtpChecks = message.CheckTables

// openSMTPChecks opens the tables main.cf names; nil when it names none.
func openSMTPChecks(cfg *config.Config, opt maps.Options) (*smtpChecks, error) {
	return message.OpenCheckTables(cfg.Get, [4]string{"smtp_header_checks", "smtp_mime_header_checks", "smtp_nested_header_checks", "smtp_body_checks"},
		int(cfg.Int64("body_checks_size_limit")), opt)
}

// smtpInspection applies smtpChecks to one delivery of a message.
type smtpInspection struct {
	log *maillog.Logger
	id  string
	err error // the first table lookup that failed: the delivery is deferred
}

// check applies the action that table gives for text, a header field or
// a body line (what says which).
func (in *smtpInspection) check(table maps.Map, name, what, text string) message.Edit {
	if table == nil || in.err != nil {
		return message.Edit{}
	}
	v, found, err := table.Lookup(text)
	if err != nil {
		in.err = fmt.Errorf("%s: lookup of %q: %w", name, message.Clip(text), err)
		return message.Edit{}
	}
	if !found {
		return message.Edit{}
	}
	a := message.ParseAction(v)
	switch a.Kind {
	case message.ActionDunno:
	case message.ActionWarn, message.ActionInfo:
		in.logAction(strings.ToLower(a.Word), what, text, a.Text)
	case message.ActionIgnore:
		return message.Edit{Drop: true}
	case message.ActionStrip:
		in.logAction("strip", what, text, a.Text)
		return message.Edit{Drop: true}
	case message.ActionPrepend, message.ActionReplace:
		if a.Text == "" || what == "header" && !message.ValidHeaderField(a.Text) {
			in.log.Warnf("%s: %s: %s %q is not a valid %s line; ignored", in.id, name, strings.ToUpper(a.Word), a.Text, what)
			break
		}
		if a.Kind == message.ActionPrepend {
			return message.Edit{Prepend: []string{a.Text}}
		}
		return message.Edit{Replace: a.Text}
	default:
		// As in Postfix: REJECT, DISCARD, HOLD, FILTER, REDIRECT... are
		// not for mail already on its way.
		in.log.Warnf("%s: %s: action %s is not supported while delivering mail: %s %q kept", in.id, name, strings.ToUpper(a.Word), what, message.Clip(text))
	}
	return message.Edit{}
}

// logAction logs what a check did: "ID: warning: header Subject: ...: text".
func (in *smtpInspection) logAction(action, what, text, reason string) {
	line := fmt.Sprintf("%s: %s: %s %s", in.id, action, what, message.Clip(text))
	if reason != "" {
		line += ": " + reason
	}
	in.log.Infof("%s", line)
}

// outgoing returns body as it goes out: through smtp_generic_maps and the
// smtp checks when either is set, else as it is. The rewriting runs in a
// goroutine that feeds a pipe; the caller closes the returned reader when
// the delivery is over (closeBody), which also ends that goroutine if the
// delivery stopped reading. A failed table lookup fails the read, and
// the delivery is deferred.
func (a *Agent) outgoing(id string, body io.Reader) io.Reader {
	if a.set.generic == nil && a.set.checks == nil {
		return body
	}
	opt := message.TransformOptions{QueueID: id}
	if g := a.set.generic; g != nil {
		opt.RewriteHeader = g.GenericHeaderLine
	}
	var in *smtpInspection
	if a.set.checks != nil {
		log := a.log
		if log == nil {
			log = maillog.NewWriter(io.Discard, "smtp")
		}
		in = &smtpInspection{log: log, id: id}
		opt.Inspector = message.TableInspector{Tables: a.set.checks, Check: in.check}
	}
	pr, pw := io.Pipe()
	go func() {
		err := message.Transform(body, pw, opt)
		if err == nil && in != nil {
			err = in.err
		}
		pw.CloseWithError(err)
	}()
	return pr
}

// closeBody ends what outgoing started, once the delivery is over.
func closeBody(body io.Reader) {
	if c, ok := body.(*io.PipeReader); ok {
		c.Close()
	}
}
