// Package envelope defines a queued message's envelope: the sender, the
// recipients with their delivery state, and where the message came from. It
// is shared by the queue (which stores it), the cleanup and pickup endpoints
// (which build it) and the delivery agents (which receive parts of it).
package envelope

import (
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

// RcptStatus is the delivery state of one recipient.
type RcptStatus int

// Recipient states.
const (
	Pending   RcptStatus = iota // not yet delivered; tried again later if deferred
	Delivered                   // delivered; nothing left to do
	Failed                      // failed for good; a bounce is owed or sent
)

// Notify flags of RFC 3461 section 4.1 (NOTIFY=).
const (
	NotifyNever   = "NEVER"
	NotifySuccess = "SUCCESS"
	NotifyFailure = "FAILURE"
	NotifyDelay   = "DELAY"
)

// Recipient is one envelope recipient and its delivery state.
type Recipient struct {
	Address     string     `json:"a"`                // current (rewritten) address
	Original    string     `json:"o,omitempty"`      // address as first received
	ORcpt       string     `json:"orcpt,omitempty"`  // RFC 3461 ORCPT, "type;address" with the address decoded
	Notify      string     `json:"notify,omitempty"` // comma list of Notify* or ""
	Status      RcptStatus `json:"s,omitempty"`
	DSN         string     `json:"dsn,omitempty"`    // last enhanced status, e.g. 4.4.1
	Reason      string     `json:"reason,omitempty"` // last result text, as mailq shows it
	Relay       string     `json:"relay,omitempty"`  // agent/next hop of last attempt
	Notified    bool       `json:"nf,omitempty"`     // the sender was told of the failure
	DelayWarned bool       `json:"dw,omitempty"`     // named in the sender's delay warning (confirm_delay_cleared)
	Relayed     bool       `json:"rl,omitempty"`     // delivered to a server that does not report on final delivery (agent.Result.Relayed)
	// Diag and RemoteMTA are the remote server's reply and host name of
	// the last attempt, for delivery status notifications.
	Diag      string `json:"diag,omitempty"`
	RemoteMTA string `json:"mta,omitempty"`
}

// Envelope is everything about a queued message except its content.
type Envelope struct {
	ID         string      `json:"id"`
	Sender     string      `json:"from"` // "" is the null sender <>
	Recipients []Recipient `json:"rcpt"`
	Arrival    time.Time   `json:"t"`
	// Activated is when the queue manager last took the message into its
	// active set, for the delays= of log lines; it is not stored.
	Activated time.Time `json:"-"`
	// Origin of the message.
	ClientName string `json:"cname,omitempty"`
	ClientAddr string `json:"caddr,omitempty"`
	Helo       string `json:"helo,omitempty"`
	Protocol   string `json:"proto,omitempty"` // ESMTP, SMTP, local
	SubmitUID  int    `json:"uid,omitempty"`
	SubmitUser string `json:"user,omitempty"`
	FullName   string `json:"fullname,omitempty"` // sendmail -F
	// DSN attributes of RFC 3461.
	EnvID string `json:"envid,omitempty"`
	Ret   string `json:"ret,omitempty"` // FULL or HDRS
	// VERP holds the two VERP delimiters when the sender asked for
	// variable envelope return paths (XVERP, sendmail -XV): each
	// recipient is then sent with a sender of its own (VERPSender).
	VERP string `json:"verp,omitempty"`
	// EightBit: the content has 8-bit bytes (see message.Result).
	EightBit bool `json:"8bit,omitempty"`
	// SMTPUTF8: the sender asked for SMTPUTF8 (RFC 6531 section 3.4):
	// MAIL with the SMTPUTF8 parameter, sendmail -SMTPUTF8, or UTF-8
	// found in a local submission (smtputf8_autodetect_classes). The
	// smtp client passes the request on, and notifications about the
	// message use RFC 6533's message/global types.
	SMTPUTF8 bool `json:"utf8,omitempty"`
	// UTF8Header: the message header has UTF-8 (RFC 6532). With SMTPUTF8
	// the message then cannot go to a server that does not offer it
	// (Postfix's SMTPUTF8_FLAG_HEADER).
	UTF8Header bool `json:"utf8hdr,omitempty"`
	// Probe marks an address verification probe (reject_unverified_*):
	// agents find out whether each recipient would be taken and deliver
	// nothing. It is not stored in the queue.
	Probe bool `json:"-"`
	// Trace is what sendmail -bv (TraceVerify) or -v (TraceRecord) asked
	// for: a report mailed to the sender on each recipient, after the
	// first delivery pass. "" for ordinary mail.
	Trace string `json:"trace,omitempty"`
	// Filter, when set, is the "transport:nexthop" that every recipient
	// is sent to instead of its own route: Postfix's content_filter, or
	// a FILTER action.
	Filter string `json:"filter,omitempty"`
	// Size of the content in bytes.
	Size int64 `json:"size"`
	// Scheduling.
	Attempts    int       `json:"n,omitempty"`
	NextAttempt time.Time `json:"next,omitempty"`
	WarnedDelay bool      `json:"warned,omitempty"`
}

// Values of Envelope.Trace, as sendmail asks for them.
const (
	// TraceVerify (sendmail -bv): nothing is delivered; each recipient is
	// routed and its agent says what it would do, as for a probe.
	TraceVerify = "verify"
	// TraceRecord (sendmail -v): the mail is delivered as usual and the
	// outcome of the first attempt is reported.
	TraceRecord = "record"
)

// ValidTrace reports whether t is a value of Envelope.Trace.
func ValidTrace(t string) bool { return t == "" || t == TraceVerify || t == TraceRecord }

// Verifying reports whether agents only find out whether they would take
// the recipients, delivering nothing: an address probe or sendmail -bv.
func (e *Envelope) Verifying() bool { return e.Probe || e.Trace == TraceVerify }

// Pending returns the indexes of the recipients that still await delivery.
func (e *Envelope) Pending() []int {
	var idx []int
	for i := range e.Recipients {
		if e.Recipients[i].Status == Pending {
			idx = append(idx, i)
		}
	}
	return idx
}

// Done reports whether no recipient awaits delivery.
func (e *Envelope) Done() bool { return len(e.Pending()) == 0 }

// Record encodes the envelope's origin and sender as IPC attributes
// (without recipients, which callers add as they need).
func (e *Envelope) Record() ipc.Record {
	r := ipc.Record{
		{Name: "id", Value: e.ID},
		{Name: "sender", Value: e.Sender},
		{Name: "arrival", Value: strconv.FormatInt(e.Arrival.UnixNano(), 10)},
	}
	if !e.Activated.IsZero() {
		r = append(r, ipc.Attr{Name: "activated", Value: strconv.FormatInt(e.Activated.UnixNano(), 10)})
	}
	add := func(name, v string) {
		if v != "" {
			r = append(r, ipc.Attr{Name: name, Value: v})
		}
	}
	add("client_name", e.ClientName)
	add("client_addr", e.ClientAddr)
	add("helo", e.Helo)
	add("protocol", e.Protocol)
	add("submit_user", e.SubmitUser)
	add("fullname", e.FullName)
	add("envid", e.EnvID)
	add("ret", e.Ret)
	add("verp", e.VERP)
	add("filter", e.Filter)
	if e.EightBit {
		add("8bit", "1")
	}
	if e.SMTPUTF8 {
		add("smtputf8", "1")
	}
	if e.UTF8Header {
		add("utf8_header", "1")
	}
	if e.Probe {
		add("probe", "1")
	}
	add("trace", e.Trace)
	if e.SubmitUID != 0 {
		add("submit_uid", strconv.Itoa(e.SubmitUID))
	}
	return r
}

// FromRecord fills the fields that Record encodes.
func FromRecord(r ipc.Record) *Envelope {
	e := &Envelope{
		ID:         r.Get("id"),
		Sender:     r.Get("sender"),
		ClientName: r.Get("client_name"),
		ClientAddr: r.Get("client_addr"),
		Helo:       r.Get("helo"),
		Protocol:   r.Get("protocol"),
		SubmitUser: r.Get("submit_user"),
		FullName:   r.Get("fullname"),
		EnvID:      r.Get("envid"),
		Ret:        r.Get("ret"),
		VERP:       r.Get("verp"),
		Filter:     r.Get("filter"),
		EightBit:   r.Get("8bit") == "1",
		SMTPUTF8:   r.Get("smtputf8") == "1",
		UTF8Header: r.Get("utf8_header") == "1",
		Probe:      r.Get("probe") == "1",
		Trace:      r.Get("trace"),
	}
	if n, err := strconv.ParseInt(r.Get("arrival"), 10, 64); err == nil && n > 0 {
		e.Arrival = time.Unix(0, n)
	}
	if n, err := strconv.ParseInt(r.Get("activated"), 10, 64); err == nil && n > 0 {
		e.Activated = time.Unix(0, n)
	}
	if n, err := strconv.Atoi(r.Get("submit_uid")); err == nil {
		e.SubmitUID = n
	}
	return e
}

// RcptRecord encodes one recipient as a single attribute value:
// address, original, orcpt and notify separated by NUL bytes.
func RcptRecord(rc Recipient) string {
	return strings.Join([]string{rc.Address, rc.Original, rc.ORcpt, rc.Notify}, "\x00")
}

// ParseRcptRecord decodes RcptRecord's form.
func ParseRcptRecord(s string) Recipient {
	f := strings.SplitN(s, "\x00", 4)
	for len(f) < 4 {
		f = append(f, "")
	}
	return Recipient{Address: f[0], Original: f[1], ORcpt: f[2], Notify: f[3]}
}

// LooksLikeOption reports whether addr begins with "-", quoted or not.
// Unless allow_min_user is set, such an address is refused by smtpd and
// sent to the error transport by qmgr, as in Postfix: a program that
// gets addresses on its command line would take it for an option.
func LooksLikeOption(addr string) bool {
	addr = strings.TrimPrefix(addr, `"`)
	addr = strings.TrimPrefix(addr, `\`)
	return strings.HasPrefix(addr, "-")
}

// VERPSender is the sender of a message with VERP delimiters delims for
// recipient rcpt, as Postfix writes it: list@origin and user@domain with
// "+=" give list+user=domain@origin. The null sender stays null.
func VERPSender(sender, rcpt, delims string) string {
	if sender == "" || len(delims) != 2 {
		return sender
	}
	sLocal, sDomain, sAt := cutLastAt(sender)
	rLocal, rDomain, rAt := cutLastAt(rcpt)
	var b strings.Builder
	b.WriteString(sLocal)
	b.WriteByte(delims[0])
	b.WriteString(rLocal)
	if rAt && rDomain != "" {
		b.WriteByte(delims[1])
		b.WriteString(rDomain)
	}
	if sAt && sDomain != "" {
		b.WriteByte('@')
		b.WriteString(sDomain)
	}
	return b.String()
}

// VERPDelimitersOK reports whether delims are two characters of filter
// (verp_delimiter_filter).
func VERPDelimitersOK(delims, filter string) bool {
	return len(delims) == 2 && strings.IndexByte(filter, delims[0]) >= 0 && strings.IndexByte(filter, delims[1]) >= 0
}

// cutLastAt splits addr at its last "@".
func cutLastAt(addr string) (local, domain string, found bool) {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr, "", false
	}
	return addr[:i], addr[i+1:], true
}
