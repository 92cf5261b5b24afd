package dsn

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/tern-mta/tern/pkg/message"
)

// deliveryStatus returns the message/delivery-status body: the
// per-message fields and one block per recipient, each field in the order
// of the RFC 3464 grammar (section 2.1), blocks separated by blank lines.
func deliveryStatus(rep *Report) string {
	var b strings.Builder
	if rep.EnvID != "" {
		writeField(&b, "Original-Envelope-Id", rep.EnvID)
	}
	writeField(&b, "Reporting-MTA", "dns; "+rep.ReportingMTA)
	if !rep.Arrival.IsZero() {
		writeField(&b, "Arrival-Date", message.FormatDate(rep.Arrival))
	}
	writeField(&b, "X-Tern-Queue-ID", rep.QueueID)
	writeField(&b, "X-Tern-Sender", typedAddress("rfc822", rep.Sender))
	for i := range rep.Recipients {
		b.WriteString("\n")
		recipientFields(&b, rep, &rep.Recipients[i])
	}
	return b.String()
}

func recipientFields(b *strings.Builder, rep *Report, rr *RecipientReport) {
	act := action(rep, rr)
	if rr.OriginalRecipient != "" {
		typ, addr := originalRecipient(rr.OriginalRecipient)
		writeField(b, "Original-Recipient", typedAddress(typ, addr))
	}
	writeField(b, "Final-Recipient", typedAddress("rfc822", rr.FinalRecipient))
	writeField(b, "Action", string(act))
	writeField(b, "Status", status(rr.Status, act))
	if rr.RemoteMTA != "" {
		writeField(b, "Remote-MTA", remoteMTA(rr.RemoteMTA))
	}
	if rr.Diagnostic != "" {
		typ := rr.DiagnosticType
		if !isAtom(typ) {
			typ = "x-unix"
		}
		writeField(b, "Diagnostic-Code", typ+"; "+rr.Diagnostic)
	}
	if !rr.LastAttempt.IsZero() {
		writeField(b, "Last-Attempt-Date", message.FormatDate(rr.LastAttempt))
	}
	if act == Delayed && !rr.WillRetryUntil.IsZero() {
		writeField(b, "Will-Retry-Until", message.FormatDate(rr.WillRetryUntil))
	}
}

// action returns the recipient's valid action, defaulting to the kind.
func action(rep *Report, rr *RecipientReport) Action {
	switch rr.Action {
	case Failed, Delayed, Delivered, Relayed, Expanded, Deliverable, Undeliverable:
		return rr.Action
	}
	if rep.Kind == Trace {
		return Delivered
	}
	return rep.Kind
}

// status returns s when it is a valid RFC 3463 status code and otherwise
// the generic code of the action's class.
func status(s string, act Action) string {
	if validStatus(s) {
		return s
	}
	switch act {
	case Failed, Undeliverable:
		return "5.0.0"
	case Delayed:
		return "4.0.0"
	}
	return "2.0.0"
}

// validStatus checks the grammar class "." subject "." detail of RFC 3463.
func validStatus(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.Contains("245", parts[0]) {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// originalRecipient splits an original recipient ("rfc822;addr" or
// "utf-8;addr", the address decoded, as the queue keeps ORCPT) into its
// type and address; a value without a type is an rfc822 address as is.
func originalRecipient(v string) (typ, addr string) {
	if i := strings.IndexByte(v, ';'); i > 0 && isAtom(v[:i]) && !strings.Contains(v[:i], "@") {
		return v[:i], strings.TrimSpace(v[i+1:])
	}
	return "rfc822", v
}

// typedAddress writes an address with its type: an rfc822 address with
// UTF-8 is of RFC 6533's utf-8 type (section 3), which only the
// message/global-delivery-status that Global picks for it may carry.
func typedAddress(typ, addr string) string {
	if strings.EqualFold(typ, "rfc822") && !isASCII(addr) {
		typ = "utf-8"
	}
	return typ + "; " + addr
}

// remoteMTA gives a Remote-MTA value its "dns;" type when it has none.
func remoteMTA(v string) string {
	if i := strings.IndexByte(v, ';'); i > 0 && isAtom(v[:i]) {
		return v
	}
	return "dns; " + v
}

// isAtom reports whether s is a non-empty type name (letters, digits, "-").
func isAtom(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// writeField writes "Name: value" with the value made US-ASCII text as
// RFC 3464 requires (control characters become spaces, other non-ASCII
// characters the \x{HEX} form of RFC 6533), runs of white space collapsed
// (so that folding never makes a blank line) and folded before white space
// to keep lines short.
func writeField(b *strings.Builder, name, value string) {
	b.WriteString(fold(name + ": " + asciiText(value)))
	b.WriteString("\n")
}

func asciiText(s string) string {
	var b strings.Builder
	space := false
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		if r <= ' ' || r == 0x7f {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		switch {
		case r < 0x80:
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, `\x{%X}`, r)
		}
	}
	return b.String()
}

// fold breaks a field line before spaces so that its lines stay within
// 78 characters where the words allow it. Folding before existing white
// space loses nothing when the field is unfolded. A line that would still
// exceed 998 characters is broken by force.
func fold(line string) string {
	const soft, hard = 78, 998
	var b strings.Builder
	for len(line) > soft {
		cut := strings.LastIndexByte(line[:soft], ' ')
		if cut <= 0 {
			cut = strings.IndexByte(line[soft:], ' ')
			if cut >= 0 {
				cut += soft
			}
		}
		if cut <= 0 || cut > hard {
			if len(line) <= hard {
				break
			}
			cut = hard - 1
			b.WriteString(line[:cut])
			b.WriteString("\n ")
			line = line[cut:]
			continue
		}
		b.WriteString(line[:cut])
		b.WriteString("\n")
		line = line[cut:]
	}
	b.WriteString(line)
	return b.String()
}
