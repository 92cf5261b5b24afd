package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// Limits of the MIME downgrade, as Postfix's mime_nesting_limit and
// header_size_limit.
const (
	mimeNestingLimit = 100
	headerSizeLimit  = 102400
	qpLineMax        = 76 // RFC 2045 section 6.7 rule 5
)

// Downgrade converts a MIME message with 8-bit content to 7-bit for a
// server without 8BITMIME, as Postfix does (RFC 6152 section 3): every
// body part whose Content-Transfer-Encoding claims 8bit or binary is
// re-encoded as quoted-printable and its header says so; a multipart or
// message/rfc822 entity that claims 8bit is relabelled 7bit and its parts
// are converted in turn. Everything else passes byte for byte. A message
// without MIME-Version is not MIME and passes unchanged, as in Postfix.
// Input and output have LF line ends. The top-level header is read at
// once (its read errors come back here), the rest as the result is read.
func Downgrade(r io.Reader) (io.Reader, error) {
	d := &downgrader{br: bufio.NewReaderSize(r, 64<<10), inHeader: true, top: true}
	for d.inHeader && d.top && d.err == nil {
		d.step()
	}
	if d.err != nil && !errors.Is(d.err, io.EOF) {
		return nil, d.err
	}
	return d, nil
}

// frame is one enclosing multipart entity.
type frame struct {
	boundary string
	digest   bool // multipart/digest: parts default to message/rfc822
}

// downgrader is the line-by-line MIME state machine behind Downgrade.
type downgrader struct {
	br  *bufio.Reader
	out bytes.Buffer
	err error // the input's end or failure, returned once out is drained

	raw      bool // not MIME: copy the rest as is
	stack    []frame
	inHeader bool
	top      bool     // the header being read is the message's own
	digest   bool     // the entity being read defaults to message/rfc822
	header   []string // fields of the header being read, folded lines kept
	hsize    int
	qp       bool // the current body is being encoded quoted-printable
	nested   bool // a message/rfc822 header follows the current blank line
}

// Read returns converted content.
func (d *downgrader) Read(p []byte) (int, error) {
	for d.out.Len() == 0 {
		if d.err != nil {
			return 0, d.err
		}
		if d.raw {
			return d.br.Read(p)
		}
		d.step()
	}
	return d.out.Read(p)
}

// step consumes one input line.
func (d *downgrader) step() {
	line, err := d.br.ReadString('\n')
	if line != "" {
		d.line(line)
	}
	if err != nil {
		if d.inHeader {
			d.flushHeader(false)
		}
		if !errors.Is(err, io.EOF) {
			err = fmt.Errorf("%w: %w", errBodyRead, err)
		}
		d.err = err
	}
}

func (d *downgrader) line(l string) {
	if d.raw {
		d.out.WriteString(l)
		return
	}
	if d.inHeader {
		d.headerLine(l)
		return
	}
	if k := d.boundary(l); k >= 0 {
		d.delimiter(k, l)
		return
	}
	if d.qp {
		d.out.WriteString(qpLine(l))
		return
	}
	d.out.WriteString(l)
}

// headerLine adds a line to the header being read, or ends it.
func (d *downgrader) headerLine(l string) {
	content := strings.TrimRight(l, "\r\n")
	switch {
	case content == "":
		d.flushHeader(true)
		d.out.WriteString(l)
		d.afterHeader()
	case d.boundary(l) >= 0:
		d.flushHeader(false)
		d.afterHeader()
		d.line(l)
	case (l[0] == ' ' || l[0] == '\t') && len(d.header) > 0 && d.hsize+len(l) <= headerSizeLimit:
		d.header[len(d.header)-1] += l
		d.hsize += len(l)
	case isFieldStart(content) && d.hsize+len(l) <= headerSizeLimit:
		d.header = append(d.header, l)
		d.hsize += len(l)
	default: // not a header line: the body starts here
		d.flushHeader(false)
		d.afterHeader()
		d.line(l)
	}
}

// isFieldStart reports "Name:" (RFC 5322 section 2.2, allowing the
// obsolete white space before the colon).
func isFieldStart(l string) bool {
	name, _, ok := strings.Cut(l, ":")
	name = strings.TrimRight(name, " \t")
	if !ok || name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if name[i] < '!' || name[i] > '~' {
			return false
		}
	}
	return true
}

// flushHeader decides how to treat the entity whose header was read,
// writes the header with its Content-Transfer-Encoding changed where
// needed, and sets up the body state. ended says a blank line closed it.
func (d *downgrader) flushHeader(ended bool) {
	d.inHeader = false
	fields := d.header
	d.header, d.hsize = nil, 0
	ctype, params, cte, mimeVersion := "", map[string]string(nil), "", false
	for _, f := range fields {
		name, value, _ := strings.Cut(f, ":")
		value = unfold(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "mime-version":
			mimeVersion = true
		case "content-type":
			if t, p, err := mime.ParseMediaType(value); err == nil {
				ctype, params = t, p
			}
		case "content-transfer-encoding":
			cte, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(value)), " ")
			cte = strings.TrimRight(cte, ";(")
		}
	}
	top := d.top
	d.top = false
	if top && !mimeVersion {
		d.raw = true
		d.writeFields(fields, "")
		return
	}
	if ctype == "" {
		ctype = "text/plain"
		if d.digest {
			ctype = "message/rfc822"
		}
	}
	eight := cte == "8bit" || cte == "binary"
	newCTE := ""
	d.qp = false
	d.digest = false
	switch {
	case strings.HasPrefix(ctype, "multipart/") && params["boundary"] != "" && len(d.stack) < mimeNestingLimit:
		if eight {
			newCTE = "7bit"
		}
		d.stack = append(d.stack, frame{boundary: params["boundary"], digest: ctype == "multipart/digest"})
	case ctype == "message/rfc822" && len(d.stack) < mimeNestingLimit:
		if eight {
			newCTE = "7bit"
		}
		if ended {
			d.nested = true
		}
	case eight:
		newCTE = "quoted-printable"
		d.qp = true
	}
	d.writeFields(fields, newCTE)
}

// afterHeader starts the header of a nested message/rfc822 once the
// blank line after its container's header has been written.
func (d *downgrader) afterHeader() {
	if d.nested {
		d.nested = false
		d.inHeader = true
	}
}

// writeFields writes header fields, replacing Content-Transfer-Encoding
// when cte is set.
func (d *downgrader) writeFields(fields []string, cte string) {
	for _, f := range fields {
		name, _, _ := strings.Cut(f, ":")
		if cte != "" && strings.EqualFold(strings.TrimSpace(name), "content-transfer-encoding") {
			d.out.WriteString("Content-Transfer-Encoding: " + cte + "\n")
			continue
		}
		d.out.WriteString(f)
	}
}

// boundary returns the index in the stack of the multipart entity whose
// delimiter line l is, searching from the innermost, or -1.
func (d *downgrader) boundary(l string) int {
	if !strings.HasPrefix(l, "--") || len(d.stack) == 0 {
		return -1
	}
	s := strings.TrimRight(l[2:], " \t\r\n")
	for k := len(d.stack) - 1; k >= 0; k-- {
		b := d.stack[k].boundary
		if s == b || s == b+"--" {
			return k
		}
	}
	return -1
}

// delimiter handles a delimiter line of the multipart at stack index k.
func (d *downgrader) delimiter(k int, l string) {
	d.out.WriteString(l)
	f := d.stack[k]
	s := strings.TrimRight(l[2:], " \t\r\n")
	d.qp, d.nested = false, false
	if s == f.boundary+"--" { // close delimiter: the epilogue follows
		d.stack = d.stack[:k]
		return
	}
	d.stack = d.stack[:k+1]
	d.inHeader = true
	d.digest = f.digest
}

// unfold joins a folded header value into one line.
func unfold(v string) string {
	v = strings.ReplaceAll(v, "\r\n", "")
	v = strings.ReplaceAll(v, "\n", "")
	return strings.TrimSpace(v)
}

// qpLine encodes one line as quoted-printable (RFC 2045 section 6.7):
// the line end stays a hard line break, white space before it and every
// byte outside printable ASCII (and '=') becomes =XX, and soft line
// breaks keep output lines within 76 characters.
func qpLine(l string) string {
	eol := ""
	if strings.HasSuffix(l, "\n") {
		l, eol = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r"), "\n"
	}
	var b strings.Builder
	col := 0
	for i := 0; i < len(l); i++ {
		c := l[i]
		tok := string(c)
		last := i == len(l)-1
		if (c < ' ' && c != '\t') || c > '~' || c == '=' || ((c == ' ' || c == '\t') && last) {
			tok = fmt.Sprintf("=%02X", c)
		}
		limit := qpLineMax - 1 // room for the soft break's '='
		if last {
			limit = qpLineMax
		}
		if col+len(tok) > limit {
			b.WriteString("=\n")
			col = 0
		}
		b.WriteString(tok)
		col += len(tok)
	}
	b.WriteString(eol)
	return b.String()
}
