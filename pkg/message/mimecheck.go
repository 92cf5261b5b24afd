package message

import "strings"

// MIME problems, worded as Postfix's MIME processor words them; Postfix
// rejects a message with one of them with 5.6.0.
const (
	MIMENesting        = "MIME nesting exceeds safety limit"
	MIME8BitHeader     = "improper use of 8-bit data in message header"
	MIME8BitBody       = "improper use of 8-bit data in message body"
	MIMEEncodingDomain = "invalid message/* or multipart/* encoding domain"
)

// Defaults of the MIME limits.
const (
	DefaultMIMENestingLimit  = 100  // mime_nesting_limit
	DefaultMIMEBoundaryLimit = 2048 // mime_boundary_length_limit
)

// MIMEChecks are Postfix's MIME processing limits and its strict_* checks.
// The limits apply whenever the body is walked for content checks; the
// strict checks and ReportNesting make Cleanup walk it, and report the
// first problem in Result.MIMEError.
type MIMEChecks struct {
	// NestingLimit is mime_nesting_limit: deeper multiparts and attached
	// messages are taken as plain body (0: the default).
	NestingLimit int
	// BoundaryLimit is mime_boundary_length_limit: a longer boundary is
	// cut, and matches the lines it starts (0: the default).
	BoundaryLimit int
	// Header8Bit is strict_7bit_headers: 8-bit data in a header field.
	Header8Bit bool
	// Body8Bit is strict_8bitmime_body: 8-bit data in a body part that
	// does not say Content-Transfer-Encoding: 8bit or binary.
	Body8Bit bool
	// EncodingDomain is strict_mime_encoding_domain: a multipart/* or
	// message/* type with an encoding other than 7bit, 8bit or binary.
	EncodingDomain bool
	// ReportNesting makes a message nested past NestingLimit a problem
	// too; Postfix reports it when a strict check or a header check is in
	// use.
	ReportNesting bool
}

// Strict reports whether a strict check is on.
func (c MIMEChecks) Strict() bool { return c.Header8Bit || c.Body8Bit || c.EncodingDomain }

// walk reports whether the body must be walked for the checks.
func (c MIMEChecks) walk() bool { return c.Strict() || c.ReportNesting }

// MIMEError is the first MIME problem found in a message: one of the
// MIME* texts and the text where it was found (clipped).
type MIMEError struct{ Problem, Text string }

// mimeState applies MIMEChecks to one message.
type mimeState struct {
	checks MIMEChecks
	err    *MIMEError
}

// fail records the first problem.
func (m *mimeState) fail(problem, text string) {
	if m.err == nil {
		m.err = &MIMEError{Problem: problem, Text: Clip(text)}
	}
}

func (m *mimeState) nestingLimit() int {
	if m.checks.NestingLimit > 0 {
		return m.checks.NestingLimit
	}
	return DefaultMIMENestingLimit
}

func (m *mimeState) boundaryLimit() int {
	if m.checks.BoundaryLimit > 0 {
		return m.checks.BoundaryLimit
	}
	return DefaultMIMEBoundaryLimit
}

// boundary returns b cut at the boundary length limit.
func (m *mimeState) boundary(b string) string {
	if lim := m.boundaryLimit(); len(b) > lim {
		return b[:lim]
	}
	return b
}

// nestingExceeded notes content nested past the limit.
func (m *mimeState) nestingExceeded(ctype string) {
	if m.checks.ReportNesting {
		m.fail(MIMENesting, "Content-Type: "+ctype)
	}
}

// encodingDomain checks the encoding of content of media type mt.
func (m *mimeState) encodingDomain(mt, cte string) {
	if !m.checks.EncodingDomain || !strings.HasPrefix(mt, "multipart/") && !strings.HasPrefix(mt, "message/") {
		return
	}
	switch cte {
	case "", "7bit", "8bit", "binary":
		return
	}
	m.fail(MIMEEncodingDomain, "Content-Transfer-Encoding: "+cte)
}

// headerField checks one header field.
func (m *mimeState) headerField(text string) {
	if m.checks.Header8Bit && Has8BitString(text) {
		m.fail(MIME8BitHeader, text)
	}
}

// bodyLine checks one line of a body whose encoding is cte.
func (m *mimeState) bodyLine(cte string, raw []byte) {
	if !m.checks.Body8Bit || cte == "8bit" || cte == "binary" || m.err != nil {
		return
	}
	if Has8Bit(raw) {
		m.fail(MIME8BitBody, trimEOL(raw))
	}
}
