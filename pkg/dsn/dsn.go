// Package dsn writes delivery status notifications in the multipart/report
// format of RFC 3462 and RFC 3464, shaped as Postfix's bounce(8) writes
// them: non-delivery reports (bounces), delay warnings and success notices.
// Reports on SMTPUTF8 mail use the message/global types of RFC 6533.
package dsn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/message"
)

// Action is the Action field of RFC 3464 section 2.3.3.
type Action string

// The actions of RFC 3464.
const (
	Failed    Action = "failed"
	Delayed   Action = "delayed"
	Delivered Action = "delivered"
	Relayed   Action = "relayed"
	Expanded  Action = "expanded"
)

// The actions of the report that sendmail -bv asks for, as Postfix
// writes them (not RFC 3464 actions): what delivery would do.
const (
	Deliverable   Action = "deliverable"
	Undeliverable Action = "undeliverable"
)

// Trace is the kind of the report that sendmail -bv or -v asks for
// ("Mail Delivery Status Report"): each recipient has its own action.
const Trace Action = "trace"

// RecipientReport is what the notification says about one recipient.
type RecipientReport struct {
	FinalRecipient string
	// OriginalRecipient is the ORCPT value as the queue keeps it
	// ("rfc822;addr" with the xtext of the RCPT command decoded), or the
	// original address, or "".
	OriginalRecipient string
	Action            Action // "" means the report's Kind
	Status            string // e.g. "5.1.1"; "" or invalid gives X.0.0 of the action's class
	DiagnosticType    string // "smtp" or "x-unix" ("" means x-unix)
	Diagnostic        string // e.g. "550 5.1.1 <x@y>: Recipient address rejected"
	RemoteMTA         string // "dns; mx.example.com", a bare host name, or ""
	LastAttempt       time.Time
	WillRetryUntil    time.Time // written for delayed recipients only
}

// Report describes one notification.
type Report struct {
	ReportingMTA string // myhostname
	QueueID      string // of the original message
	// MessageID is the notification's Message-Id value; "" makes one
	// from QueueID and Kind (see ID).
	MessageID string
	Arrival   time.Time
	Now       time.Time // zero means time.Now()
	Sender    string    // original envelope sender
	// To receives the notification; "" means Sender. (For a
	// notification about a null-sender message, set To to the
	// postmaster and leave Sender empty.)
	To         string
	From       string // "" means MAILER-DAEMON@ReportingMTA
	Postmaster string // named in the text, "" means "postmaster"
	EnvID      string // ENVID of RFC 3461, xtext as received
	Ret        string // RET of RFC 3461: "HDRS" returns headers only
	// OrigSize is the original message's size and SizeLimit Postfix's
	// bounce_size_limit: a larger original is returned as headers only.
	// A SizeLimit of 0 returns any size.
	OrigSize, SizeLimit int64
	Recipients          []RecipientReport
	Kind                Action // Failed (bounce), Delayed (warning), Delivered (success) or Trace
	MailName            string // mail_name, "" means "tern"
	// Copy marks the postmaster's copy of a sender's notification
	// (notify_classes bounce or delay): Postfix's "Postmaster Copy:" and
	// "Postmaster Warning:" subjects.
	Copy bool
	// Template, when set, gives the From and Subject headers and the
	// explanation of the text part (bounce_template_file).
	Template *Template
	// SMTPUTF8 says the original message asked for SMTPUTF8: the report
	// then uses the message/global types of RFC 6533, as it does when an
	// address it names has UTF-8 (see Global).
	SMTPUTF8 bool
	// EightBit says the original message has 8-bit content: its part is
	// labelled Content-Transfer-Encoding: 8bit (RFC 2045 section 6.1),
	// so that the smtp client converts it for a server without 8BITMIME
	// instead of passing 8-bit bytes in a part that claims 7bit.
	EightBit bool
}

// Global reports whether the notification uses RFC 6533's types
// (message/global-delivery-status, message/global and
// message/global-headers) and utf-8 address types: the original message
// asked for SMTPUTF8, or an address in the report has UTF-8, which the
// message/delivery-status and message/rfc822 types cannot carry.
func (r *Report) Global() bool {
	if r.SMTPUTF8 || !isASCII(r.Sender) || !isASCII(r.To) {
		return true
	}
	for _, rr := range r.Recipients {
		if !isASCII(rr.FinalRecipient) || !isASCII(rr.OriginalRecipient) {
			return true
		}
	}
	return false
}

// Write writes the complete notification message (headers and
// multipart/report body, LF line endings) to w. The original message is
// read from orig as it is stored in the queue (LF line endings) and copied
// as a stream: as message/rfc822 for failures without RET=HDRS, otherwise
// (RET=HDRS, delay warnings, success notices) only its headers as
// text/rfc822-headers (message/global and message/global-headers when
// the report is Global). orig may be nil: the third part is then left out.
func Write(w io.Writer, rep Report, orig io.Reader) error {
	if err := normalise(&rep); err != nil {
		return err
	}
	boundary := makeBoundary(&rep)
	bw := bufio.NewWriterSize(w, 32<<10)
	writeHeaders(bw, &rep, boundary)
	bw.WriteString("This is a MIME-encapsulated message.\n\n")

	text := humanText(&rep)
	cs := charset(text)
	if t := rep.Template; t != nil && t.Charset != "" && (cs == "us-ascii" || !strings.EqualFold(t.Charset, "us-ascii")) {
		cs = t.Charset
	}
	fmt.Fprintf(bw, "--%s\nContent-Description: Notification\n"+
		"Content-Type: text/plain; charset=%s\n%s\n%s\n", boundary, cs, encodingField(!isASCII(text)), text)

	global := rep.Global()
	statusType, fullType, headersType := "message/delivery-status", "message/rfc822", "text/rfc822-headers"
	if global {
		// RFC 6533 sections 3, 5 and 6.
		statusType, fullType, headersType = "message/global-delivery-status", "message/global", "message/global-headers"
	}
	fmt.Fprintf(bw, "--%s\nContent-Description: Delivery report\n"+
		"Content-Type: %s\n\n%s\n", boundary, statusType, deliveryStatus(&rep))

	if orig != nil {
		full := rep.Kind == Failed && !strings.EqualFold(rep.Ret, "HDRS") &&
			(rep.SizeLimit <= 0 || rep.OrigSize <= rep.SizeLimit)
		desc, ctype := "Undelivered Message", fullType
		switch rep.Kind {
		case Delivered:
			desc = "Delivered Message"
		case Trace:
			desc = "Message"
		}
		if !full {
			desc, ctype = desc+" Headers", headersType
		}
		fmt.Fprintf(bw, "--%s\nContent-Description: %s\nContent-Type: %s\n%s\n", boundary, desc, ctype, encodingField(rep.EightBit))
		if err := copyOriginal(bw, orig, full); err != nil {
			return fmt.Errorf("notification for %s: %w", rep.QueueID, err)
		}
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "--%s--\n", boundary)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write notification for %s: %w", rep.QueueID, err)
	}
	return nil
}

// encodingField is the Content-Transfer-Encoding field of a part with
// 8-bit content, "" for one without.
func encodingField(eightBit bool) string {
	if eightBit {
		return "Content-Transfer-Encoding: 8bit\n"
	}
	return ""
}

// normalise fills defaults and checks that a notification can be written.
func normalise(rep *Report) error {
	switch rep.Kind {
	case Failed, Delayed, Delivered, Trace:
	case Relayed, Expanded:
		rep.Kind = Delivered
	default:
		return fmt.Errorf("notification for %s: unknown kind %q", rep.QueueID, rep.Kind)
	}
	if len(rep.Recipients) == 0 {
		return fmt.Errorf("notification for %s: %w", rep.QueueID, errNoRecipients)
	}
	if rep.To == "" {
		rep.To = rep.Sender
	}
	if rep.To == "" {
		return fmt.Errorf("notification for %s: %w", rep.QueueID, errNoAddressee)
	}
	if rep.Now.IsZero() {
		rep.Now = time.Now()
	}
	if rep.From == "" {
		rep.From = "MAILER-DAEMON@" + rep.ReportingMTA
	}
	if rep.Postmaster == "" {
		rep.Postmaster = "postmaster"
	}
	if rep.MailName == "" {
		rep.MailName = "tern"
	}
	return nil
}

var (
	errNoRecipients = errors.New("no recipients to report on")
	errNoAddressee  = errors.New("null sender and no other addressee")
)

// subjects of the notifications, as Postfix words them.
var subjects = map[Action]string{
	Failed:    "Undelivered Mail Returned to Sender",
	Delayed:   "Delayed Mail (still being retried)",
	Delivered: "Successful Mail Delivery Report",
	Trace:     "Mail Delivery Status Report",
}

// copySubjects are the subjects of the postmaster's copies.
var copySubjects = map[Action]string{
	Failed:  "Postmaster Copy: Undelivered Mail",
	Delayed: "Postmaster Warning: Delayed Mail",
}

// fromField is the From header's value: the template's, or From as
// Postfix writes it, with "(Mail Delivery System)".
func fromField(rep *Report) string {
	if t := rep.Template; t != nil && t.From != "" {
		return templateFrom(t.From, rep.ReportingMTA)
	}
	return oneLine(rep.From) + " (Mail Delivery System)"
}

// ID is the notification's Message-Id: MessageID, or else
// "<YYYYMMDDhhmmss.QUEUEID.KIND@REPORTING-MTA>" from the original's queue
// id and the kind of report.
func (r *Report) ID() string {
	if r.MessageID != "" {
		return oneLine(r.MessageID)
	}
	return fmt.Sprintf("<%s.%s.%s@%s>", r.Now.UTC().Format("20060102150405"), oneLine(r.QueueID), r.Kind, oneLine(r.ReportingMTA))
}

// UTF8Header reports whether the notification's header will hold UTF-8:
// a UTF-8 addressee, or a template's From with UTF-8 (a Subject with
// UTF-8 is encoded, RFC 2047).
func (r *Report) UTF8Header() bool {
	to := r.To
	if to == "" {
		to = r.Sender
	}
	return !isASCII(fromField(r)) || !isASCII(to)
}

func writeHeaders(bw *bufio.Writer, rep *Report, boundary string) {
	from := fromField(rep)
	subject := subjects[rep.Kind]
	if rep.Copy {
		subject = copySubjects[rep.Kind]
	}
	if t := rep.Template; t != nil {
		switch {
		case rep.Copy && t.PostmasterSubject != "":
			subject = oneLine(t.PostmasterSubject)
		case !rep.Copy && t.Subject != "":
			subject = oneLine(t.Subject)
		}
	}
	if !isASCII(subject) {
		subject = mime.QEncoding.Encode("utf-8", subject) // RFC 2047
	}
	fmt.Fprintf(bw, "From: %s\n", from)
	fmt.Fprintf(bw, "Subject: %s\n", subject)
	fmt.Fprintf(bw, "To: %s\n", oneLine(rep.To))
	bw.WriteString("Auto-Submitted: auto-replied\nMIME-Version: 1.0\n")
	fmt.Fprintf(bw, "Content-Type: multipart/report; report-type=delivery-status;\n"+
		"\tboundary=\"%s\"\n", boundary)
	bw.WriteString("Content-Transfer-Encoding: 8bit\n")
	fmt.Fprintf(bw, "Message-Id: %s\n", rep.ID())
	fmt.Fprintf(bw, "Date: %s\n\n", message.FormatDate(rep.Now))
}

// templateFrom is a template's From header: a bare local part, such as
// MAILER-DAEMON, gets the host's name as domain, as in Postfix.
func templateFrom(v, host string) string {
	v = oneLine(v)
	addr, rest, _ := strings.Cut(v, " ")
	if addr != "" && !strings.Contains(addr, "@") && !strings.ContainsAny(addr, "<\"(") {
		addr += "@" + oneLine(host)
	}
	return strings.TrimSpace(addr + " " + rest)
}

// makeBoundary derives the MIME boundary from the queue id, the time and
// the host name as Postfix does ("QUEUEID.UNIXTIME/HOST"), keeping only
// characters that RFC 2046 allows and at most 70 of them.
func makeBoundary(rep *Report) string {
	s := fmt.Sprintf("%s.%d/%s", rep.QueueID, rep.Now.Unix(), rep.ReportingMTA)
	b := []byte(s)
	for i, c := range b {
		if !isBchar(c) {
			b[i] = '-'
		}
	}
	if len(b) > 70 {
		b = b[:70]
	}
	return string(b)
}

func isBchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("'()+_,-./:=?", c) >= 0
}

// oneLine replaces control characters with spaces so that a value cannot
// break a header line apart.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// copyOriginal copies the original message, or with full false only its
// header block, ending the copy with a newline.
func copyOriginal(bw *bufio.Writer, orig io.Reader, full bool) error {
	br := bufio.NewReaderSize(orig, 32<<10)
	var last byte
	n := 0
	atLineStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if !full && atLineStart && (string(chunk) == "\n" || string(chunk) == "\r\n") {
			break // end of the header block
		}
		if len(chunk) > 0 {
			bw.Write(chunk)
			n += len(chunk)
			last = chunk[len(chunk)-1]
			atLineStart = last == '\n'
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("read original message: %w", err)
		}
	}
	if n > 0 && last != '\n' {
		bw.WriteString("\n")
	}
	return nil
}
