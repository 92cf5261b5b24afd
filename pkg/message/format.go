// Package message does the header work of Postfix's cleanup(8): it copies a
// submitted message into the queue with LF line endings, prepends a Received
// header, adds the Message-Id, Date and (for local submissions) From headers
// that are missing, counts hops, collects Delivered-To values and, for
// "sendmail -t", extracts the recipients from the To, Cc and Bcc headers.
//
// Headers are buffered (up to a size limit); the body is streamed.
package message

import (
	"fmt"
	"mime"
	"strings"
	"time"
	"unicode/utf8"
)

// FormatDate formats t as Postfix writes dates in headers (RFC 5322 with the
// zone abbreviation as a comment), e.g. "Mon, 23 Nov 2026 15:51:54 +0000 (UTC)".
// Like Postfix (strftime %e), days below 10 are padded with a space.
func FormatDate(t time.Time) string {
	s := t.Format("Mon, _2 Jan 2006 15:04:05 -0700")
	zone, _ := t.Zone()
	if zone != "" && zone[0] != '+' && zone[0] != '-' {
		s += " (" + zone + ")"
	}
	return s
}

// MessageID returns a Message-Id value as Postfix's cleanup makes it:
// "<YYYYMMDDhhmmss.QUEUEID@HOST>", the time stamp in UTC.
func MessageID(now time.Time, queueID, host string) string {
	return fmt.Sprintf("<%s.%s@%s>", now.UTC().Format("20060102150405"), queueID, host)
}

// clean replaces control characters (CR and LF in particular) with spaces so
// that a value taken from a client cannot break a header apart.
func clean(s string) string {
	if strings.IndexFunc(s, isCtl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isCtl(r) {
			return ' '
		}
		return r
	}, s)
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }

// receivedLocal is the Received header of a local (sendmail/pickup)
// submission, as Postfix's pickup writes it.
func receivedLocal(opt *CleanupOptions) string {
	return fmt.Sprintf("Received: by %s (%s, from userid %d)\n\tid %s; %s",
		clean(opt.MyHostname), clean(opt.MailName), opt.SubmitUID,
		clean(opt.QueueID), FormatDate(opt.Now))
}

// ReceivedSMTP is the Received header of an SMTP submission, as Postfix's
// smtpd writes it, from opt's client, TLS, AuthenticatedSender, host,
// mail name, protocol, queue id (left out when empty: smtpd in front of a
// before-queue filter has none), recipient and time.
func ReceivedSMTP(opt *CleanupOptions) string {
	name := clean(opt.ClientName)
	if name == "" {
		name = "unknown"
	}
	helo := clean(opt.Helo)
	if helo == "" {
		helo = name
	}
	addr := clean(opt.ClientAddr)
	if strings.Contains(addr, ":") && !strings.HasPrefix(strings.ToLower(addr), "ipv6:") {
		addr = "IPv6:" + addr
	}
	proto := clean(opt.Protocol)
	if proto == "" {
		proto = "SMTP"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Received: from %s (%s [%s])", helo, name, addr)
	if opt.TLS != "" {
		fmt.Fprintf(&b, "\n\t(using %s)", clean(opt.TLS))
	}
	if opt.AuthenticatedSender != "" {
		fmt.Fprintf(&b, "\n\t(Authenticated sender: %s)", clean(opt.AuthenticatedSender))
	}
	fmt.Fprintf(&b, "\n\tby %s (%s) with %s", clean(opt.MyHostname), clean(opt.MailName), proto)
	if opt.QueueID != "" {
		fmt.Fprintf(&b, " id %s", clean(opt.QueueID))
	}
	if opt.Recipient != "" {
		fmt.Fprintf(&b, "\n\tfor <%s>", clean(opt.Recipient))
	}
	fmt.Fprintf(&b, "; %s", FormatDate(opt.Now))
	return b.String()
}

// fromHeader builds the value of a missing From header of a local
// submission: "Full Name <user@origin>" (or, with ObsoleteFrom,
// "user@origin (Full Name)") or "user@origin". A null sender
// becomes MAILER-DAEMON, as in Postfix.
func fromHeader(opt *CleanupOptions) string {
	addr := clean(opt.Sender)
	if addr == "" {
		addr = "MAILER-DAEMON"
	}
	if !strings.Contains(addr, "@") && opt.MyOrigin != "" {
		addr += "@" + clean(opt.MyOrigin)
	}
	name := opt.FullName
	if name == "" {
		name = gecosName(opt.GecosName, opt.SubmitUser)
	}
	name = strings.TrimSpace(clean(name))
	if name == "" || opt.Sender == "" {
		return addr
	}
	if opt.ObsoleteFrom {
		// header_from_format = obsolete: "addr (Full Name)".
		return addr + " (" + strings.NewReplacer(`\`, `\\`, "(", `\(`, ")", `\)`).Replace(name) + ")"
	}
	return phrase(name) + " <" + addr + ">"
}

// gecosName extracts the full name from a GECOS field: the text before the
// first comma, with "&" standing for the capitalised login name.
func gecosName(gecos, login string) string {
	if i := strings.IndexByte(gecos, ','); i >= 0 {
		gecos = gecos[:i]
	}
	if strings.Contains(gecos, "&") && login != "" {
		r, n := utf8.DecodeRuneInString(login)
		gecos = strings.ReplaceAll(gecos, "&", strings.ToUpper(string(r))+login[n:])
	}
	return gecos
}

// phrase renders a display name: as is when it is made of atoms, quoted when
// it has specials, RFC 2047 encoded when it has non-ASCII characters.
func phrase(name string) string {
	ascii, atoms := true, true
	for _, r := range name {
		switch {
		case r >= 0x80:
			ascii = false
		case r == ' ' || isAtext(byte(r)):
		default:
			atoms = false
		}
	}
	if !ascii && utf8.ValidString(name) {
		return mime.QEncoding.Encode("utf-8", name)
	}
	if atoms {
		return name
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(name) + `"`
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}
