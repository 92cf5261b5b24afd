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

// contentChecks holds the opened tables; a nil table checks nothing.
type contentChecks struct {
	header, mime, nested, body maps.Map
	bodyLimit                  int
	opened                     []maps.Map
}

// newContentChecks opens the tables main.cf names; nil when it names none.
func newContentChecks(cfg *config.Config) (*contentChecks, error) {
	c := &contentChecks{bodyLimit: int(cfg.Int64("body_checks_size_limit"))}
	byValue := map[string]maps.Map{}
	for _, t := range []struct {
		param string
		dst   *maps.Map
	}{
		{"header_checks", &c.header}, {"mime_header_checks", &c.mime},
		{"nested_header_checks", &c.nested}, {"body_checks", &c.body},
	} {
		value := strings.TrimSpace(cfg.Get(t.param))
		if value == "" {
			continue
		}
		if m, ok := byValue[value]; ok {
			*t.dst = m // mime_header_checks = $header_checks: one table
			continue
		}
		specs, err := maps.SplitSpecs(value)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("%s: %w", t.param, err)
		}
		ms, _, err := maps.OpenList(specs, maps.Options{})
		if err != nil {
			c.close()
			return nil, fmt.Errorf("%s: %w", t.param, err)
		}
		c.opened = append(c.opened, ms...)
		*t.dst = maps.Chain(t.param, ms)
		byValue[value] = *t.dst
	}
	if c.header == nil && c.mime == nil && c.nested == nil && c.body == nil {
		return nil, nil
	}
	return c, nil
}

func (c *contentChecks) close() {
	if c != nil {
		maps.CloseAll(c.opened)
	}
}

// checkKind is a header_checks(5) action.
type checkKind int

const (
	checkDunno checkKind = iota // DUNNO, OK, or nothing to do
	checkReject
	checkWarn
	checkInfo
	checkIgnore
	checkDiscard
	checkHold
	checkPrepend
	checkReplace
	checkFilter
	checkRedirect
	checkUnsupported // BCC, STRIP, DELAY, ... and unknown words
)

// checkAction is a parsed table result.
type checkAction struct {
	kind checkKind
	word string // as written
	text string
}

// parseCheckAction parses a header_checks or body_checks result.
func parseCheckAction(value string) checkAction {
	value = strings.TrimSpace(value)
	word, text := value, ""
	if i := strings.IndexAny(value, " \t"); i >= 0 {
		word, text = value[:i], strings.TrimSpace(value[i:])
	}
	a := checkAction{word: word, text: text}
	switch strings.ToUpper(word) {
	case "DUNNO", "OK", "":
		a.kind = checkDunno
	case "REJECT":
		a.kind = checkReject
	case "WARN":
		a.kind = checkWarn
	case "INFO":
		a.kind = checkInfo
	case "IGNORE":
		a.kind = checkIgnore
	case "DISCARD":
		a.kind = checkDiscard
	case "HOLD":
		a.kind = checkHold
	case "PREPEND":
		a.kind = checkPrepend
	case "REPLACE":
		a.kind = checkReplace
	case "FILTER":
		a.kind = checkFilter
	case "REDIRECT":
		a.kind = checkRedirect
	default:
		a.kind = checkUnsupported
	}
	return a
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
func (c *contentChecks) inspect(env *envelope.Envelope, log *maillog.Logger) *inspection {
	if c == nil {
		return nil
	}
	return &inspection{c: c, log: log, env: env}
}

// Header implements message.Inspector.
func (in *inspection) Header(class message.HeaderClass, text string) message.Edit {
	table, name := in.c.header, "header_checks"
	switch class {
	case message.MIMEHeader:
		table, name = in.c.mime, "mime_header_checks"
	case message.NestedHeader:
		table, name = in.c.nested, "nested_header_checks"
	}
	return in.check(table, name, "header", text)
}

// Body implements message.Inspector.
func (in *inspection) Body(line string) message.Edit {
	return in.check(in.c.body, "body_checks", "body", line)
}

// WantBody implements message.Inspector.
func (in *inspection) WantBody() bool {
	return in.c.mime != nil || in.c.nested != nil || in.c.body != nil
}

// BodyLimit implements message.Inspector.
func (in *inspection) BodyLimit() int { return in.c.bodyLimit }

// check looks text (a header field, or a body line: what says which) up
// in table, the parameter name, and applies the action.
func (in *inspection) check(table maps.Map, name, what, text string) message.Edit {
	header := what == "header"
	if table == nil || in.reject != nil || in.discard {
		return message.Edit{}
	}
	v, found, err := table.Lookup(text)
	if err != nil {
		in.log.Warnf("%s: %s: table lookup of %q failed: %v", in.env.ID, name, clip(text), err)
		in.reject = &rejection{code: exTempFail, dsn: "4.3.0", text: "content check lookup failure"}
		return message.Edit{}
	}
	if !found {
		return message.Edit{}
	}
	a := parseCheckAction(v)
	switch a.kind {
	case checkReject:
		reason := a.text
		dsn, rest := splitCheckDSN(reason, "5.7.1")
		if rest == "" {
			rest = "message content rejected"
		}
		in.logAction("reject", what, text, dsn+" "+rest)
		in.reject = &rejection{code: exDataErr, dsn: dsn, text: rest, smtp: 550}
	case checkWarn, checkInfo:
		in.logAction(map[checkKind]string{checkWarn: "warning", checkInfo: "info"}[a.kind], what, text, a.text)
	case checkIgnore:
		return message.Edit{Drop: true}
	case checkDiscard:
		in.logAction("discard", what, text, a.text)
		in.discard = true
	case checkHold:
		if !in.hold {
			in.logAction("hold", what, text, a.text)
		}
		in.hold = true
	case checkPrepend:
		return in.rewrite(a, name, text, header, func(s string) message.Edit { return message.Edit{Prepend: []string{s}} })
	case checkReplace:
		return in.rewrite(a, name, text, header, func(s string) message.Edit { return message.Edit{Replace: s} })
	case checkFilter:
		if !strings.Contains(a.text, ":") {
			in.log.Warnf("%s: %s: FILTER %q needs transport:destination; ignored", in.env.ID, name, a.text)
			break
		}
		in.logAction("filter", what, text, a.text)
		in.filter = a.text
	case checkRedirect:
		if !strings.Contains(a.text, "@") || strings.ContainsAny(a.text, " \t<>,") {
			in.log.Warnf("%s: %s: REDIRECT %q needs user@domain; ignored", in.env.ID, name, a.text)
			break
		}
		in.logAction("redirect", what, text, a.text)
		in.redirect = a.text
	case checkUnsupported:
		in.log.Warnf("%s: %s: action %s is not supported by tern: %s %q kept", in.env.ID, name, strings.ToUpper(a.word), what, clip(text))
	}
	return message.Edit{}
}

// rewrite checks the text of PREPEND and REPLACE: a header check's must
// be a header field.
func (in *inspection) rewrite(a checkAction, name, text string, header bool, edit func(string) message.Edit) message.Edit {
	if a.text == "" || header && !validHeaderField(a.text) {
		need := "text"
		if header {
			need = "a header field (name: value)"
		}
		in.log.Warnf("%s: %s: %s %q needs %s; ignored for %q", in.env.ID, name, strings.ToUpper(a.word), a.text, need, clip(text))
		return message.Edit{}
	}
	return edit(a.text)
}

// validHeaderField reports "Name: value" with a printable field name.
func validHeaderField(s string) bool {
	name, _, ok := strings.Cut(s, ":")
	if !ok || name == "" || strings.ContainsAny(s, "\r\n") {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] >= 0x7f {
			return false
		}
	}
	return true
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
	env := in.env
	origin := "local"
	if env.ClientAddr != "" {
		origin = fmt.Sprintf("%s[%s]", env.ClientName, env.ClientAddr)
	}
	to := ""
	if len(env.Recipients) > 0 {
		to = env.Recipients[0].Address
	}
	line := fmt.Sprintf("%s: %s: %s %s from %s; from=<%s> to=<%s>", env.ID, action, what, clip(text), origin, env.Sender, to)
	if env.Protocol != "" && env.Protocol != "local" {
		line += fmt.Sprintf(" proto=%s helo=<%s>", env.Protocol, env.Helo)
	}
	if reason != "" {
		line += ": " + reason
	}
	in.log.Infof("%s", line)
}

// clip shortens text for a log line, as Postfix logs at most 200 bytes.
func clip(text string) string {
	if len(text) > 200 {
		return text[:200]
	}
	return text
}
