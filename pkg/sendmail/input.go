package sendmail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// inputBufferSize is the longest piece of a line handled at once; longer
// lines are passed on in pieces.
const inputBufferSize = 64 << 10

// headerLimit bounds the header block that -t buffers (Postfix's
// header_size_limit is 102400); what follows a longer header is passed on
// without being searched for recipients.
const headerLimit = 1 << 20

// lineReader turns input into message lines with LF endings: trailing CRs
// are removed ("sendmail_fix_line_endings = always"), a final line without
// newline gets one. It returns whole lines, or the pieces of a line longer
// than its buffer (a piece does not end in "\n").
type lineReader struct {
	br       *bufio.Reader
	dotEnds  bool // a line "." ends the input (no -i; SMTP DATA)
	unstuff  bool // remove one leading "." (SMTP DATA)
	skipFrom bool // drop leading "From " and ">From " lines (mbox)
	needDot  bool // input must end with the "." line (SMTP DATA)

	midLine  bool // the previous piece did not end its line
	dropLine bool // the line being read is being dropped
	pendCR   int  // CRs held back at the end of a piece
	sawDot   bool // the input ended with the "." line
	eof      bool
	out      []byte
}

func newLineReader(r io.Reader) *lineReader {
	br, ok := r.(*bufio.Reader)
	if !ok || br.Size() < inputBufferSize {
		br = bufio.NewReaderSize(r, inputBufferSize)
	}
	return &lineReader{br: br}
}

// next returns the next line or piece of one, valid until the next call,
// or io.EOF at the end of the message.
func (l *lineReader) next() ([]byte, error) {
	// Every round either returns or consumes a dropped From_ piece.
	for {
		if l.eof {
			return nil, io.EOF
		}
		raw, err := l.br.ReadSlice('\n')
		full := errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !full {
			if !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("read input: %w", err)
			}
			l.eof = true
			if len(raw) == 0 {
				return l.endUnterminated()
			}
		}
		out, keep := l.piece(raw, !full)
		if keep {
			return out, nil
		}
	}
}

// endUnterminated ends a long last line that had no newline.
func (l *lineReader) endUnterminated() ([]byte, error) {
	if !l.midLine || l.dropLine {
		return nil, io.EOF
	}
	l.midLine, l.pendCR = false, 0
	return []byte("\n"), nil
}

// piece processes raw input: a whole line when complete, else the start or
// a middle part of a long line. keep is false when nothing is to be passed
// on (a dropped From_ line, or the end-of-input dot).
func (l *lineReader) piece(raw []byte, complete bool) (out []byte, keep bool) {
	text := raw
	if complete {
		text = bytes.TrimRight(bytes.TrimSuffix(raw, []byte("\n")), "\r")
	}
	if !l.midLine {
		if l.skipFrom {
			rest := bytes.TrimLeft(text, ">")
			if bytes.HasPrefix(rest, []byte("From ")) {
				l.dropLine = true
			} else {
				l.skipFrom = false
			}
		}
		if !l.dropLine && complete && l.dotEnds && len(text) == 1 && text[0] == '.' {
			l.sawDot, l.eof = true, true
			return nil, false
		}
		if !l.dropLine && l.unstuff && len(text) > 0 && text[0] == '.' {
			text = text[1:]
		}
	}
	l.midLine = !complete
	if l.dropLine {
		l.dropLine = !complete
		return nil, false
	}
	l.out = l.out[:0]
	if complete {
		if len(text) > 0 {
			l.out = appendCRs(l.out, l.pendCR)
		}
		l.pendCR = 0
		l.out = append(append(l.out, text...), '\n')
		return l.out, true
	}
	trimmed := bytes.TrimRight(text, "\r")
	if len(trimmed) > 0 {
		l.out = appendCRs(l.out, l.pendCR)
		l.pendCR = 0
	}
	l.pendCR += len(text) - len(trimmed)
	l.out = append(l.out, trimmed...)
	return l.out, true
}

func appendCRs(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, '\r')
	}
	return b
}

// headerField is one header field as read, with its continuation lines.
type headerField struct {
	name string // lower case; "" for a non-field (the first body line)
	raw  []byte
}

// readHeader reads the header block for -t. It returns the bytes to send
// in its place (the header without Bcc: and Resent-Bcc:, and the line that
// ended it) and the recipients of its To:, Cc: and Bcc: fields; when there
// are Resent- recipient fields, only those count, as in Postfix.
func readHeader(in *lineReader) (head []byte, rcpts []string, err error) {
	var fields []headerField
	size := 0
	inField := false // the last field's line is not complete yet
	for size <= headerLimit {
		p, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		size += len(p)
		switch {
		case len(p) == 0:
			// a piece that was all held-back CRs
		case len(fields) > 0 && (inField || p[0] == ' ' || p[0] == '\t'):
			last := &fields[len(fields)-1]
			last.raw = append(last.raw, p...)
		case fieldName(p) != "":
			fields = append(fields, headerField{name: fieldName(p), raw: append([]byte(nil), p...)})
		default:
			fields = append(fields, headerField{raw: append([]byte(nil), p...)})
			return assembleHeader(fields)
		}
		inField = in.midLine
	}
	return assembleHeader(fields)
}

// assembleHeader builds readHeader's results. A trailing non-field line is
// kept as it is.
func assembleHeader(fields []headerField) ([]byte, []string, error) {
	var head []byte
	var normal, resent []string
	sawResent := false
	for _, f := range fields {
		switch f.name {
		case "to", "cc", "bcc":
			normal = append(normal, recipientsOf([]string{fieldValue(f.raw)})...)
		case "resent-to", "resent-cc", "resent-bcc":
			sawResent = true
			resent = append(resent, recipientsOf([]string{fieldValue(f.raw)})...)
		}
		if f.name != "bcc" && f.name != "resent-bcc" {
			head = append(head, f.raw...)
		}
	}
	if sawResent {
		return head, resent, nil
	}
	return head, normal, nil
}

// fieldName returns the lower-cased name of a header field line, or "" if
// p does not start one (RFC 5322: printable ASCII except ':', then ':').
func fieldName(p []byte) string {
	for i, c := range p {
		if c == ':' {
			if i == 0 {
				return ""
			}
			return strings.ToLower(strings.TrimRight(string(p[:i]), " \t"))
		}
		if c < 0x21 || c > 0x7e {
			// Tolerate white space before the colon ("Subject :").
			if (c == ' ' || c == '\t') && i > 0 && onlyBlanksToColon(p[i:]) {
				continue
			}
			return ""
		}
	}
	return ""
}

func onlyBlanksToColon(p []byte) bool {
	for _, c := range p {
		switch c {
		case ' ', '\t':
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// fieldValue returns the unfolded value of a raw header field.
func fieldValue(raw []byte) string {
	_, v, _ := bytes.Cut(raw, []byte(":"))
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return string(v)
}
