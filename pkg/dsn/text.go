package dsn

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tern-mta/tern/pkg/message"
)

// humanText returns the text/plain part: an explanation in the spirit of
// Postfix's notices, then one paragraph per recipient.
func humanText(rep *Report) string {
	var b strings.Builder
	if rep.Template != nil {
		b.WriteString(rep.Template.Text)
		b.WriteString("\n")
	} else {
		explanation(&b, rep)
	}
	for i := range rep.Recipients {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(wrap(recipientLine(&rep.Recipients[i]), 76))
		b.WriteString("\n")
	}
	return strings.ToValidUTF8(b.String(), "?")
}

// explanation writes tern's own text before the recipient paragraphs.
func explanation(b *strings.Builder, rep *Report) {
	fmt.Fprintf(b, "This is the mail system at host %s.\n\n", oneLine(rep.ReportingMTA))
	switch rep.Kind {
	case Failed:
		b.WriteString("I'm sorry to have to inform you that your message could not\n" +
			"be delivered to one or more recipients. It's attached below.\n\n")
		fmt.Fprintf(b, "If you need help with this, write to %s and include this\n"+
			"report. You may remove the text of your message from the copy.\n\n",
			oneLine(rep.Postmaster))
	case Delayed:
		b.WriteString("This is a warning only: you do not need to send your message again.\n\n")
		b.WriteString(delayText(rep))
		fmt.Fprintf(b, "If you need help with this, write to %s and include this\n"+
			"report. The headers of your message are attached below.\n\n",
			oneLine(rep.Postmaster))
	case Trace:
		b.WriteString("Enclosed is the mail delivery report that you requested.\n\n")
	default:
		b.WriteString("Your message has been delivered to the recipients listed below,\n" +
			"as you asked with a delivery status notification request.\n\n")
		if onlyDelivered(rep) {
			break
		}
		b.WriteString("A recipient marked \"relayed\" or \"expanded\" was passed on to a\n" +
			"system that does not report on delivery: you may hear nothing\n" +
			"more about it, or still hear of a failure later.\n\n")
	}
	fmt.Fprintf(b, "                   The %s program\n\n", oneLine(rep.MailName))
}

// delayText says how long delivery has been failing and until when it
// will be tried.
func delayText(rep *Report) string {
	var until time.Time
	for _, rr := range rep.Recipients {
		if !rr.WillRetryUntil.IsZero() {
			until = rr.WillRetryUntil
			break
		}
	}
	s := "Your message has not yet been delivered to the recipients listed\nbelow"
	if !rep.Arrival.IsZero() && rep.Now.After(rep.Arrival) {
		s += "; delivery has been failing for " + duration(rep.Now.Sub(rep.Arrival))
	}
	s += ".\n"
	if !until.IsZero() {
		s += "Delivery will be tried again until " + message.FormatDate(until) + ".\n"
	}
	return s + "\n"
}

// duration renders d as Postfix does in its delay warnings, roughly: in
// minutes, hours or days.
func duration(d time.Duration) string {
	switch {
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func onlyDelivered(rep *Report) bool {
	for i := range rep.Recipients {
		if a := action(rep, &rep.Recipients[i]); a == Relayed || a == Expanded {
			return false
		}
	}
	return true
}

// recipientLine is the text paragraph about one recipient, such as
// "<bob@example.com>: host mx.example.com said: 550 5.1.1 no such user".
func recipientLine(rr *RecipientReport) string {
	s := "<" + rr.FinalRecipient + ">"
	if rr.OriginalRecipient != "" {
		if _, orig := originalRecipient(rr.OriginalRecipient); !strings.EqualFold(orig, rr.FinalRecipient) {
			s += " (expanded from <" + orig + ">)"
		}
	}
	diag := rr.Diagnostic
	if diag == "" {
		diag = "no further information"
	}
	if rr.RemoteMTA != "" && strings.EqualFold(rr.DiagnosticType, "smtp") {
		host := rr.RemoteMTA
		if i := strings.IndexByte(host, ';'); i >= 0 {
			host = strings.TrimSpace(host[i+1:])
		}
		diag = "host " + host + " said: " + diag
	}
	return oneLine(s + ": " + diag)
}

// wrap breaks a paragraph at spaces into lines of at most width columns
// where the words allow it, indenting continuation lines by four spaces.
func wrap(s string, width int) string {
	words := strings.Fields(s)
	var b strings.Builder
	col := 0
	for i, w := range words {
		n := utf8.RuneCountInString(w)
		switch {
		case i == 0:
		case col+1+n > width:
			b.WriteString("\n    ")
			col = 4
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += n
	}
	return b.String()
}

// charset names the charset of the text part.
func charset(text string) string {
	for i := 0; i < len(text); i++ {
		if text[i] >= 0x80 {
			return "utf-8"
		}
	}
	return "us-ascii"
}
