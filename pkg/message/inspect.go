package message

import (
	"strings"
)

// Content checks (Postfix's header_checks, mime_header_checks,
// nested_header_checks and body_checks) look at the message as Cleanup
// copies it. Cleanup only finds the header fields and body lines, walking
// the MIME structure, and applies the edits an Inspector asks for; what
// the checks mean for the whole message (reject, hold, discard) is the
// Inspector's business.

// HeaderClass says where a header field was found.
type HeaderClass int

// Header classes.
const (
	PrimaryHeader HeaderClass = iota // the message's own header, except MIME fields
	MIMEHeader                       // Content-* and MIME-Version, of the message or a part
	NestedHeader                     // other fields of a part or an attached message
)

// Edit is what an Inspector does to the header field or body line it saw.
// The zero Edit keeps it.
type Edit struct {
	Drop    bool     // leave it out
	Replace string   // when not "", write this instead
	Prepend []string // lines to write before it
}

// Inspector applies content checks while Cleanup copies a message.
type Inspector interface {
	// Header is called with each header field, its continuation lines
	// joined to it without the line breaks.
	Header(class HeaderClass, text string) Edit
	// Body is called with each body line, without its line ending,
	// within BodyLimit bytes of the start of each body part.
	Body(line string) Edit
	// WantBody reports whether body lines and the headers of body parts
	// are to be inspected too; when false, the body is copied unread.
	WantBody() bool
	// BodyLimit bounds the bytes of each body part shown to Body
	// (body_checks_size_limit); 0 means no limit.
	BodyLimit() int
}

// headerClass classifies a field of the message's own header.
func headerClass(key string, nested bool) HeaderClass {
	switch {
	case strings.HasPrefix(key, "content-") || key == "mime-version":
		return MIMEHeader
	case nested:
		return NestedHeader
	}
	return PrimaryHeader
}

// unfold joins a field's continuation lines.
func unfold(text string) string { return strings.ReplaceAll(text, "\n", "") }

// inspectHeader applies the inspector to the message's own header fields.
func inspectHeader(fields []field, in Inspector) []field {
	out := make([]field, 0, len(fields))
	for _, f := range fields {
		e := in.Header(headerClass(f.key, false), unfold(f.text))
		for _, p := range e.Prepend {
			if isHeaderLine(p) {
				out = append(out, field{key: fieldKey(p), text: p})
			}
		}
		switch {
		case e.Drop:
		case e.Replace != "" && isHeaderLine(e.Replace):
			out = append(out, field{key: fieldKey(e.Replace), text: e.Replace})
		default:
			out = append(out, f)
		}
	}
	return out
}
