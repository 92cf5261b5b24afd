// Package reply is an SMTP server reply: a three-digit code (RFC 5321
// section 4.2), an enhanced status code (RFC 3463) and text. smtpd's
// handlers, its restrictions and its SASL layer all return Reply values, so
// that tables can test them without a network.
package reply

import (
	"fmt"
	"strings"
)

// Reply is one SMTP reply. Enhanced is "" for replies that carry none
// (the greeting, EHLO, and replies before ENHANCEDSTATUSCODES applies).
type Reply struct {
	Code     int
	Enhanced string
	Text     string // may hold several lines separated by "\n"
}

// Reply codes, RFC 5321 section 4.2.2 and 4.2.3.
const (
	CodeHelp            = 214 // help message
	CodeReady           = 220 // service ready
	CodeClosing         = 221 // closing transmission channel
	CodeAuthOK          = 235 // RFC 4954 section 6: authentication succeeded
	CodeOK              = 250 // requested action completed
	CodeCannotVRFY      = 252 // cannot VRFY user, but will accept
	CodeAuthChallenge   = 334 // RFC 4954 section 4: server challenge
	CodeStartData       = 354 // start mail input
	CodeUnavailable     = 421 // service not available, closing channel
	CodeMailboxBusy     = 450 // mailbox unavailable (temporary)
	CodeLocalError      = 451 // local error in processing
	CodeInsufficient    = 452 // insufficient system storage
	CodeTempAuthFailure = 454 // RFC 4954 section 6: temporary authentication failure
	CodeParamsTemp      = 455 // server unable to accommodate parameters
	CodeSyntax          = 500 // syntax error, command unrecognised
	CodeSyntaxParams    = 501 // syntax error in parameters
	CodeNotImplemented  = 502 // command not implemented
	CodeBadSequence     = 503 // bad sequence of commands
	CodeParamNotImpl    = 504 // command parameter not implemented
	CodeNoMail          = 521 // RFC 7504 section 3: host does not accept mail
	CodeAuthRequired    = 530 // RFC 4954 section 6: authentication required
	CodeAuthInvalid     = 535 // RFC 4954 section 6: credentials invalid
	CodeMailboxUnavail  = 550 // mailbox unavailable (permanent)
	CodeUserNotLocal    = 551 // user not local
	CodeExceededStorage = 552 // exceeded storage allocation
	CodeMailboxName     = 553 // mailbox name not allowed
	CodeFailed          = 554 // transaction failed
	CodeParamsPerm      = 555 // MAIL/RCPT parameters not recognised
)

// Enhanced status codes, RFC 3463 (section numbers there) and later RFCs.
const (
	StatusOK              = "2.0.0" // 3.1 other or undefined status
	StatusSenderOK        = "2.1.0" // 3.2 other address status
	StatusRcptOK          = "2.1.5" // 3.2 destination address valid
	StatusAuthOK          = "2.7.0" // RFC 4954 section 6
	StatusTemp            = "4.0.0" // 3.1 other or undefined, transient
	StatusTempRcpt        = "4.1.1" // 3.2 bad destination mailbox, transient
	StatusTempSenderDom   = "4.1.8" // 3.2 bad sender's system address, transient
	StatusTempSystem      = "4.3.0" // 3.5 other mail system status
	StatusTempFull        = "4.3.1" // 3.5 mail system full
	StatusTempConn        = "4.4.2" // 3.5 bad connection
	StatusTempTooMany     = "4.5.3" // 3.6 too many recipients
	StatusTempPolicy      = "4.7.0" // 3.8 other security or policy status
	StatusTempRelayDenied = "4.7.1" // 3.8 delivery not authorised
	StatusPerm            = "5.0.0" // 3.1 other or undefined, permanent
	StatusBadRcpt         = "5.1.1" // 3.2 bad destination mailbox address
	StatusBadDestSystem   = "5.1.2" // 3.2 bad destination system address
	StatusBadRcptSyntax   = "5.1.3" // 3.2 bad destination address syntax
	StatusBadSenderSyntax = "5.1.7" // 3.2 bad sender's mailbox address syntax
	StatusBadSenderDom    = "5.1.8" // 3.2 bad sender's system address
	StatusNotAccepting    = "5.3.2" // 3.5 system not accepting network messages
	StatusTooBig          = "5.3.4" // 3.5 message too big for system
	StatusBadCommand      = "5.5.1" // 3.6 invalid command
	StatusSyntax          = "5.5.2" // 3.6 syntax error
	StatusTooManyRcpts    = "5.5.3" // 3.6 too many recipients
	StatusBadParams       = "5.5.4" // 3.6 invalid command arguments
	StatusAuthLineTooLong = "5.5.6" // RFC 4954 section 6: authentication exchange line is too long
	StatusBadContent      = "5.6.0" // 3.7 other or undefined media error
	StatusUTF8Needed      = "5.6.7" // RFC 6531 section 3.7.4: non-ASCII address without SMTPUTF8
	StatusPolicy          = "5.7.0" // 3.8 other or undefined security status
	StatusRelayDenied     = "5.7.1" // 3.8 delivery not authorised, message refused
	StatusAuthInvalid     = "5.7.8" // RFC 4954 section 6: credentials invalid
	StatusAuthRequired    = "5.7.0" // RFC 4954 section 6: authentication required
	StatusEncryptRequired = "5.7.0" // RFC 3207 section 4: must issue STARTTLS first
	StatusTempAuth        = "4.7.0" // RFC 4954 section 6: temporary authentication failure
)

// New returns a reply; an empty enhanced code leaves it out.
func New(code int, enhanced, format string, args ...any) Reply {
	return Reply{Code: code, Enhanced: enhanced, Text: fmt.Sprintf(format, args...)}
}

// Permanent reports a 5xx reply.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// Temporary reports a 4xx reply.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Positive reports a 2xx or 3xx reply.
func (r Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// IsZero reports whether r is the zero Reply (no reply).
func (r Reply) IsZero() bool { return r.Code == 0 }

// Lines returns the reply as it goes on the wire, CRLF-terminated, with
// the enhanced code on every line when enhanced is true (RFC 2034
// section 3). Control characters in the text are replaced by spaces.
func (r Reply) Lines(enhanced bool) string {
	lines := strings.Split(sanitize(r.Text), "\n")
	var b strings.Builder
	for i, l := range lines {
		sep := '-'
		if i == len(lines)-1 {
			sep = ' '
		}
		fmt.Fprintf(&b, "%03d%c", r.Code, sep)
		if enhanced && r.Enhanced != "" {
			b.WriteString(r.Enhanced)
			if l != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	return b.String()
}

// String is the reply as Postfix logs it: "550 5.1.1 text".
func (r Reply) String() string {
	s := fmt.Sprintf("%03d", r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + strings.ReplaceAll(sanitize(r.Text), "\n", " ")
	}
	return s
}

func sanitize(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '\n' {
			return c
		}
		if c < ' ' || c == 0x7f {
			return ' '
		}
		return c
	}, s)
}

// Parse reads a reply from an access table or restriction text such as
// "550 5.7.1 go away" or "450 try later". The enhanced code is optional
// and is taken only when its class matches the code's first digit.
func Parse(s string) (Reply, bool) {
	if len(s) < 3 {
		return Reply{}, false
	}
	var code int
	if _, err := fmt.Sscanf(s[:3], "%d", &code); err != nil || code < 200 || code > 599 {
		return Reply{}, false
	}
	if len(s) > 3 && s[3] != ' ' && s[3] != '-' {
		return Reply{}, false
	}
	rest := strings.TrimSpace(s[3:])
	r := Reply{Code: code, Text: rest}
	if f, tail, _ := strings.Cut(rest, " "); IsEnhanced(f) && f[0] == s[0] {
		r.Enhanced, r.Text = f, strings.TrimSpace(tail)
	}
	return r, true
}

// IsEnhanced reports whether s has the form class.subject.detail with
// class 2, 4 or 5 and up to three digits in the others (RFC 3463 section 2).
func IsEnhanced(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.ContainsAny(parts[0], "245") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}
