package qmgr

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/message"
)

// Content checks, as Postfix's cleanup(8) applies them: header_checks to
// the message's header, mime_header_checks to MIME header fields (of the
// message and of its parts), nested_header_checks to the other header
// fields of parts and attached messages, body_checks to body lines. The
// tables (regexp: or pcre:, usually) answer with header_checks(5)
// actions.

// contentChecks are cleanup's content check tables.
type contentChecks = message.CheckTables

// newContentChecks opens the tables main.cf names; nil when it names none.
func newContentChecks(cfg *config.Config) (*contentChecks, error) {
	return message.OpenCheckTables(cfg.Get, [4]string{"header_checks", "mime_header_checks", "nested_header_checks", "body_checks"},
		int(cfg.Int64("body_checks_size_limit")), maps.Options{})
}

// inspection applies the checks to one message; it is the Inspector that
// message.Cleanup calls, and remembers what the checks decided for the
// whole message.
type inspection struct {
	c   *contentChecks
	log *maillog.Logger
	env *envelope.Envelope
	// The message's fate: reject (the first REJECT's reply, or a table
	// that failed), discard and hold; after a reject or a discard no
	// further check runs.
	reject  *rejection
	discard bool
	hold    bool
	// filter and redirect are the last FILTER and REDIRECT actions.
	filter, redirect string
}

// inspect starts the inspection of env's content; nil when there are no
// checks.
func inspect(c *contentChecks, env *envelope.Envelope, log *maillog.Logger) *inspection {
	if c == nil {
		return nil
	}
	return &inspection{c: c, log: log, env: env}
}

// inspector is the message.Inspector that applies the checks.
func (in *inspection) inspector() message.Inspector {
	return message.TableInspector{Tables: in.c, Check: in.check}
}

// check looks text (a header field, or a body line: what says which) up
// in table, the parameter name, and applies the action.
func (in *inspection) check(table maps.Map, name, what, text string) message.Edit {
	header := what == "header"
	if table == nil || in.reject != nil || in.discard {
		return message.Edit{}
	}
	v, found, err := table.Lookup(text)
	if err != nil {
		in.log.Warnf("%s: %s: table lookup of %q failed: %v", in.env.ID, name, message.Clip(text), err)
		in.reject = &rejection{code: exTempFail, dsn: "4.3.0", text: "content check lookup failure"}
		return message.Edit{}
	}
	if !found {
		return message.Edit{}
	}
	a := message.ParseAction(v)
	switch a.Kind {
	case message.ActionReject:
		reason := a.Text
		dsn, rest := splitCheckDSN(reason, "5.7.1")
		if rest == "" {
			rest = "message content rejected"
		}
		in.logAction("reject", what, text, dsn+" "+rest)
		in.reject = &rejection{code: exDataErr, dsn: dsn, text: rest, smtp: 550}
	case message.ActionWarn, message.ActionInfo:
		in.logAction(map[message.ActionKind]string{message.ActionWarn: "warning", message.ActionInfo: "info"}[a.Kind], what, text, a.Text)
	case message.ActionIgnore:
		return message.Edit{Drop: true}
	case message.ActionStrip:
		in.logAction("strip", what, text, a.Text)
		return message.Edit{Drop: true}
	case message.ActionDiscard:
		in.logAction("discard", what, text, a.Text)
		in.discard = true
	case message.ActionHold:
		if !in.hold {
			in.logAction("hold", what, text, a.Text)
		}
		in.hold = true
	case message.ActionPrepend:
		return in.rewrite(a, name, text, header, func(s string) message.Edit { return message.Edit{Prepend: []string{s}} })
	case message.ActionReplace:
		return in.rewrite(a, name, text, header, func(s string) message.Edit { return message.Edit{Replace: s} })
	case message.ActionFilter:
		if !strings.Contains(a.Text, ":") {
			in.log.Warnf("%s: %s: FILTER %q needs transport:destination; ignored", in.env.ID, name, a.Text)
			break
		}
		in.logAction("filter", what, text, a.Text)
		in.filter = a.Text
	case message.ActionRedirect:
		if !strings.Contains(a.Text, "@") || strings.ContainsAny(a.Text, " \t<>,") {
			in.log.Warnf("%s: %s: REDIRECT %q needs user@domain; ignored", in.env.ID, name, a.Text)
			break
		}
		in.logAction("redirect", what, text, a.Text)
		in.redirect = a.Text
	case message.ActionUnsupported:
		in.log.Warnf("%s: %s: action %s is not supported by tern: %s %q kept", in.env.ID, name, strings.ToUpper(a.Word), what, message.Clip(text))
	}
	return message.Edit{}
}

// rewrite checks the text of PREPEND and REPLACE: a header check's must
// be a header field.
func (in *inspection) rewrite(a message.Action, name, text string, header bool, edit func(string) message.Edit) message.Edit {
	if a.Text == "" || header && !message.ValidHeaderField(a.Text) {
		need := "text"
		if header {
			need = "a header field (name: value)"
		}
		in.log.Warnf("%s: %s: %s %q needs %s; ignored for %q", in.env.ID, name, strings.ToUpper(a.Word), a.Text, need, message.Clip(text))
		return message.Edit{}
	}
	return edit(a.Text)
}

// splitCheckDSN takes an enhanced status code off a REJECT text, with the
// class made 5, as Postfix does; def when there is none.
func splitCheckDSN(text, def string) (dsn, rest string) {
	first, tail, _ := strings.Cut(text, " ")
	parts := strings.Split(first, ".")
	if len(parts) == 3 && (parts[0] == "4" || parts[0] == "5") && parts[1] != "" && parts[2] != "" {
		return "5" + first[1:], strings.TrimSpace(tail)
	}
	return def, text
}

// logAction logs what a check did, in cleanup(8)'s format:
// "ID: reject: header Subject: ... from host[addr]; from=<s> to=<r>
// proto=ESMTP helo=<h>: 5.7.1 text".
func (in *inspection) logAction(action, what, text, reason string) {
	logContentAction(in.log, in.env, action, what, text, reason)
}

// logContentAction logs what a content check did to the message of env,
// as Postfix's cleanup logs it ("ID: reject: header Subject: x from
// client[addr]; from=<s> to=<r> proto=ESMTP helo=<h>: reason").
func logContentAction(log *maillog.Logger, env *envelope.Envelope, action, what, text, reason string) {
	origin := "local"
	if env.ClientAddr != "" {
		origin = fmt.Sprintf("%s[%s]", env.ClientName, env.ClientAddr)
	}
	to := ""
	if len(env.Recipients) > 0 {
		to = env.Recipients[0].Address
	}
	line := fmt.Sprintf("%s: %s: %s %s from %s; from=<%s> to=<%s>", env.ID, action, what, message.Clip(text), origin, env.Sender, to)
	if env.Protocol != "" && env.Protocol != "local" {
		line += fmt.Sprintf(" proto=%s helo=<%s>", env.Protocol, env.Helo)
	}
	if reason != "" {
		line += ": " + reason
	}
	log.Infof("%s", line)
}
