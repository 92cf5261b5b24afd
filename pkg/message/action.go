package message

import "strings"

// ActionKind is a header_checks(5) action.
type ActionKind int

// The actions of header_checks(5) and body_checks tables.
const (
	ActionDunno       ActionKind = iota // DUNNO, OK, or nothing to do
	ActionReject                        // REJECT [dsn] text
	ActionWarn                          // WARN text: log
	ActionInfo                          // INFO text: log
	ActionIgnore                        // IGNORE: delete the line
	ActionStrip                         // STRIP text: log and delete the line
	ActionDiscard                       // DISCARD text
	ActionHold                          // HOLD text
	ActionPrepend                       // PREPEND line
	ActionReplace                       // REPLACE line
	ActionFilter                        // FILTER transport:destination
	ActionRedirect                      // REDIRECT user@domain
	ActionUnsupported                   // BCC, DELAY, PASS, ... and unknown words
)

// Action is a parsed header_checks or body_checks result: its kind, the
// action word as written, and the text after it.
type Action struct {
	Kind ActionKind
	Word string
	Text string
}

// actionWords maps action words (upper case) to kinds.
var actionWords = map[string]ActionKind{
	"DUNNO": ActionDunno, "OK": ActionDunno, "": ActionDunno,
	"REJECT": ActionReject, "WARN": ActionWarn, "INFO": ActionInfo,
	"IGNORE": ActionIgnore, "STRIP": ActionStrip, "DISCARD": ActionDiscard,
	"HOLD": ActionHold, "PREPEND": ActionPrepend, "REPLACE": ActionReplace,
	"FILTER": ActionFilter, "REDIRECT": ActionRedirect,
}

// ParseAction parses a header_checks or body_checks table result.
func ParseAction(value string) Action {
	value = strings.TrimSpace(value)
	word, text := value, ""
	if i := strings.IndexAny(value, " \t"); i >= 0 {
		word, text = value[:i], strings.TrimSpace(value[i:])
	}
	kind, ok := actionWords[strings.ToUpper(word)]
	if !ok {
		kind = ActionUnsupported
	}
	return Action{Kind: kind, Word: word, Text: text}
}

// ValidHeaderField reports whether s is "Name: value" with a printable
// field name and no line break, as PREPEND and REPLACE text of a header
// check must be.
func ValidHeaderField(s string) bool {
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

// Clip shortens the text of a checked line for a log line: Postfix logs at
// most 200 bytes of it.
func Clip(text string) string {
	if len(text) > 200 {
		return text[:200]
	}
	return text
}
