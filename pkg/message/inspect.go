package message

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
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

// Body scanner states.
const (
	inBody       = iota // body lines of the message or a part
	inPartHeader        // the header of a MIME body part
)

// bodyScanner walks a message body line by line, following multipart
// boundaries, and applies an Inspector to part headers and body lines. A
// line longer than the read buffer (16 KB) passes uninspected.
type bodyScanner struct {
	in     Inspector
	lw     *lfWriter
	bounds []string // open multipart boundaries, innermost last
	state  int
	field  []string // lines of the header field being collected
	raw    []byte   // the same lines as read, with their line endings
	ctype  string   // Content-Type of the header being read
	seen   int      // body bytes inspected in the current part
}

// newBodyScanner starts after the message's own header, whose
// Content-Type is ctype.
func newBodyScanner(in Inspector, lw *lfWriter, ctype string) *bodyScanner {
	s := &bodyScanner{in: in, lw: lw}
	s.enter(ctype)
	return s
}

// contentType returns the Content-Type value among fields.
func contentType(fields []field) string {
	for _, f := range fields {
		if f.key == "content-type" {
			return f.value()
		}
	}
	return ""
}

// enter starts the content that follows a header with Content-Type ctype.
func (s *bodyScanner) enter(ctype string) {
	s.state, s.seen, s.ctype = inBody, 0, ""
	mt, params, err := mime.ParseMediaType(ctype)
	switch {
	case err != nil:
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		s.bounds = append(s.bounds, params["boundary"])
	case mt == "message/rfc822":
		s.state = inPartHeader // the attached message's header
	}
}

// scan copies r through the inspector to the writer.
func (s *bodyScanner) scan(r *bufio.Reader) error {
	long := false // within a line too long to inspect
	for {
		raw, err := r.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			s.flushField()
			s.lw.write(raw)
			long = true
			continue
		case err != nil && !errors.Is(err, io.EOF):
			return fmt.Errorf("read message body: %w", err)
		}
		if len(raw) > 0 {
			if long {
				s.lw.write(raw)
			} else {
				s.line(raw)
			}
		}
		long = false
		if err != nil {
			s.flushField()
			s.lw.finish()
			return nil
		}
	}
}

// line handles one complete line.
func (s *bodyScanner) line(raw []byte) {
	text := trimEOL(raw)
	if s.boundary(text) {
		s.flushField()
		s.lw.write(raw)
		return
	}
	if s.state == inPartHeader {
		s.headerLine(raw, text)
		return
	}
	if lim := s.in.BodyLimit(); lim > 0 && s.seen >= lim {
		s.lw.write(raw)
		return
	}
	s.seen += len(raw)
	s.apply(s.in.Body(text), raw, false)
}

// boundary reports whether text is a delimiter line of an open multipart,
// and closes or opens parts accordingly.
func (s *bodyScanner) boundary(text string) bool {
	if !strings.HasPrefix(text, "--") {
		return false
	}
	t := strings.TrimRight(text[2:], " \t")
	for i := len(s.bounds) - 1; i >= 0; i-- {
		b := s.bounds[i]
		switch t {
		case b:
			s.bounds = s.bounds[:i+1]
			s.state, s.ctype = inPartHeader, ""
			return true
		case b + "--":
			s.bounds = s.bounds[:i]
			s.state, s.seen = inBody, 0
			return true
		}
	}
	return false
}

// headerLine handles a line of a part's (or an attached message's)
// header.
func (s *bodyScanner) headerLine(raw []byte, text string) {
	switch {
	case text == "":
		s.flushField()
		s.lw.write(raw)
		s.enter(s.ctype)
	case (text[0] == ' ' || text[0] == '\t') && len(s.field) > 0:
		s.field = append(s.field, text)
		s.raw = append(s.raw, raw...)
	case isHeaderLine(text):
		s.flushField()
		s.field = append(s.field, text)
		s.raw = append(s.raw, raw...)
	default:
		// Not a header: the part's body starts without a blank line.
		s.flushField()
		s.enter(s.ctype)
		s.line(raw)
	}
}

// flushField inspects and writes the header field being collected.
func (s *bodyScanner) flushField() {
	if len(s.field) == 0 {
		return
	}
	text := strings.Join(s.field, "\n")
	key := fieldKey(text)
	if key == "content-type" {
		s.ctype = field{key: key, text: text}.value()
	}
	e := s.in.Header(headerClass(key, true), unfold(text))
	s.apply(e, s.raw, true)
	s.field, s.raw = s.field[:0], s.raw[:0]
}

// apply writes raw (a line, or a header field) as e asks; replacements
// and prepended lines of header fields must be header fields.
func (s *bodyScanner) apply(e Edit, raw []byte, header bool) {
	for _, p := range e.Prepend {
		if !header || isHeaderLine(p) {
			s.lw.putString(p + "\n")
		}
	}
	switch {
	case e.Drop:
	case e.Replace != "" && (!header || isHeaderLine(e.Replace)):
		s.lw.putString(e.Replace + "\n")
	default:
		s.lw.write(raw)
	}
}
