package message

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// Body scanner states.
const (
	inBody       = iota // body lines of the message or a part
	inPartHeader        // the header of a MIME body part
)

// bodyScanner walks a message body line by line, following multipart
// boundaries, applies an Inspector to part headers and body lines, and
// makes the MIME checks (mimecheck.go). A line longer than the read
// buffer (16 KB) passes uninspected.
type bodyScanner struct {
	in     Inspector
	lw     *lfWriter
	mime   *mimeState
	frames []mimeFrame // open multiparts, innermost last
	// rfc822 counts the attached messages entered outside any multipart.
	rfc822 int
	state  int
	field  []string // lines of the header field being collected
	raw    []byte   // the same lines as read, with their line endings
	ctype  string   // Content-Type of the header being read
	cte    string   // Content-Transfer-Encoding of the header being read
	// bodyCTE is the encoding (lower case) of the body being read.
	bodyCTE string
	seen    int // body bytes inspected in the current part
}

// mimeFrame is one open multipart: its boundary and the attached
// messages entered within its current part.
type mimeFrame struct {
	boundary string
	rfc822   int
}

// newBodyScanner starts after the message's own header, whose
// Content-Type and Content-Transfer-Encoding are ctype and cte. in may be
// nil when only the MIME checks are wanted.
func newBodyScanner(in Inspector, lw *lfWriter, ms *mimeState, ctype, cte string) *bodyScanner {
	if in == nil {
		in = noInspector{}
	}
	s := &bodyScanner{in: in, lw: lw, mime: ms}
	s.enter(ctype, cte)
	return s
}

// noInspector inspects nothing: the body is walked for the MIME checks.
type noInspector struct{}

func (noInspector) Header(HeaderClass, string) Edit { return Edit{} }
func (noInspector) Body(string) Edit                { return Edit{} }
func (noInspector) WantBody() bool                  { return true }
func (noInspector) BodyLimit() int                  { return 0 }

// headerValue returns the value of the field named key among fields.
func headerValue(fields []field, key string) string {
	for _, f := range fields {
		if f.key == key {
			return f.value()
		}
	}
	return ""
}

// depth is the MIME nesting level: open multiparts and attached messages.
func (s *bodyScanner) depth() int {
	d := len(s.frames) + s.rfc822
	for _, f := range s.frames {
		d += f.rfc822
	}
	return d
}

// enter starts the content that follows a header with Content-Type ctype
// and Content-Transfer-Encoding cte. Past mime_nesting_limit the content
// is taken as plain body.
func (s *bodyScanner) enter(ctype, cte string) {
	s.state, s.seen, s.ctype, s.cte = inBody, 0, "", ""
	s.bodyCTE = strings.ToLower(strings.TrimSpace(cte))
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return
	}
	s.mime.encodingDomain(mt, s.bodyCTE)
	nested := strings.HasPrefix(mt, "multipart/") && params["boundary"] != "" || mt == "message/rfc822"
	if !nested {
		return
	}
	if s.depth() >= s.mime.nestingLimit() {
		s.mime.nestingExceeded(ctype)
		return
	}
	switch {
	case mt == "message/rfc822":
		s.state = inPartHeader // the attached message's header
		if n := len(s.frames); n > 0 {
			s.frames[n-1].rfc822++
		} else {
			s.rfc822++
		}
	default:
		s.frames = append(s.frames, mimeFrame{boundary: s.mime.boundary(params["boundary"])})
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
	s.mime.bodyLine(s.bodyCTE, raw)
	if lim := s.in.BodyLimit(); lim > 0 && s.seen >= lim {
		s.lw.write(raw)
		return
	}
	s.seen += len(raw)
	s.apply(s.in.Body(text), raw, false)
}

// boundary reports whether text is a delimiter line of an open multipart,
// and closes or opens parts accordingly. A boundary cut at
// mime_boundary_length_limit matches the lines it starts, as in Postfix.
func (s *bodyScanner) boundary(text string) bool {
	if !strings.HasPrefix(text, "--") {
		return false
	}
	t := strings.TrimRight(text[2:], " \t")
	for i := len(s.frames) - 1; i >= 0; i-- {
		b := s.frames[i].boundary
		rest, ok := strings.CutPrefix(t, b)
		switch {
		case !ok || rest != "" && rest != "--" && len(b) < s.mime.boundaryLimit():
			continue
		case strings.HasPrefix(rest, "--"):
			s.frames = s.frames[:i]
			s.state, s.seen = inBody, 0
		default:
			s.frames = s.frames[:i+1]
			s.frames[i].rfc822 = 0
			s.state, s.ctype, s.cte = inPartHeader, "", ""
		}
		return true
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
		s.enter(s.ctype, s.cte)
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
		s.enter(s.ctype, s.cte)
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
	switch key {
	case "content-type":
		s.ctype = field{key: key, text: text}.value()
	case "content-transfer-encoding":
		s.cte = field{key: key, text: text}.value()
	}
	s.mime.headerField(text)
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
