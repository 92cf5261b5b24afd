package milters

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/message"
)

// HeaderChecks is milter_header_checks (Postfix 3.7): tables applied to
// the header fields that milters add or change, so that an admin can act
// on a spam milter's verdict header. As in Postfix, the actions are
// DISCARD, FILTER, HOLD and REDIRECT (DUNNO and OK do nothing); others
// are warned about and ignored.
type HeaderChecks struct {
	tables []maps.Map
}

// OpenHeaderChecks opens the tables of spec; nil for none.
func OpenHeaderChecks(spec string, opt maps.Options) (*HeaderChecks, error) {
	tables, _, err := maps.OpenSpecList(spec, opt)
	if err != nil {
		return nil, fmt.Errorf("milter_header_checks: %w", err)
	}
	if len(tables) == 0 {
		return nil, nil
	}
	return &HeaderChecks{tables: tables}, nil
}

// Close releases the tables.
func (hc *HeaderChecks) Close() {
	if hc == nil {
		return
	}
	for _, t := range hc.tables {
		_ = t.Close()
	}
}

// Applied is one action a check took, for the caller's log line: the
// action word in lower case, the header field, and the action's text.
type Applied struct {
	Action, Header, Text string
}

// Check looks up each header field that milters added or changed in msg
// and applies the actions found: Discard, Hold, Filter and Redirect on
// msg. warn receives lookup failures and unsupported actions.
func (hc *HeaderChecks) Check(msg *Message, warn func(format string, args ...any)) []Applied {
	if hc == nil {
		return nil
	}
	var done []Applied
	for _, h := range msg.Header {
		if !h.byMilter {
			continue
		}
		line := h.name + ": " + strings.TrimLeft(h.value, " \t")
		v, found, err := maps.LookupFirst(hc.tables, line)
		if err != nil {
			warn("milter_header_checks: lookup of %q: %v", message.Clip(line), err)
			continue
		}
		if !found {
			continue
		}
		a := message.ParseAction(v)
		switch a.Kind {
		case message.ActionDunno:
			continue
		case message.ActionDiscard:
			msg.Discard = true
		case message.ActionHold:
			msg.Hold = true
		case message.ActionFilter:
			msg.Filter = a.Text
		case message.ActionRedirect:
			msg.Redirect = a.Text
		default:
			warn("milter_header_checks: action %q for %q is not supported there (DISCARD, FILTER, HOLD and REDIRECT are); ignored", a.Word, message.Clip(line))
			continue
		}
		done = append(done, Applied{Action: strings.ToLower(a.Word), Header: message.Clip(line), Text: a.Text})
		if msg.Discard {
			break
		}
	}
	return done
}
