package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// field is one header field: its lower-cased name and its full text (name,
// colon, value and any continuation lines joined by "\n", without the final
// line ending).
type field struct {
	key  string
	text string
}

// value returns the unfolded field body, without surrounding white space.
func (f field) value() string {
	i := strings.IndexByte(f.text, ':')
	return strings.TrimSpace(strings.ReplaceAll(f.text[i+1:], "\n", ""))
}

// headerBlock is what readHeader took from the input.
type headerBlock struct {
	fields []field
	// rest holds raw input already read that belongs to the body: the
	// first body line when the header ended without a blank line, or the
	// line that crossed the header size limit.
	rest []byte
	eof  bool // the input ended within the header
}

// readRawLine reads one line including its terminator, but gives up once
// more than budget bytes were read: complete is then false and line holds
// what was read so far.
func readRawLine(r *bufio.Reader, budget int) (line []byte, complete bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > budget {
			return line, false, nil
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil:
			return line, true, nil
		case errors.Is(err, io.EOF):
			return line, true, io.EOF
		default:
			return nil, false, fmt.Errorf("read message header: %w", err)
		}
	}
}

// trimEOL removes the LF or CRLF ending of a line.
func trimEOL(b []byte) string {
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}

// isHeaderLine reports whether line starts a header field: a name of
// printable ASCII characters other than colon, optional blanks, then a
// colon (Postfix also accepts "Name :").
// IsHeaderLine reports whether line starts with a header field name and
// a colon.
func IsHeaderLine(line string) bool { return isHeaderLine(line) }

func isHeaderLine(line string) bool {
	i := 0
	for i < len(line) && line[i] > ' ' && line[i] < 0x7f && line[i] != ':' {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	return i < len(line) && line[i] == ':'
}

// fieldKey returns the lower-cased name of a header line.
func fieldKey(line string) string {
	i := strings.IndexByte(line, ':')
	return strings.ToLower(strings.TrimRight(line[:i], " \t"))
}

// readHeader reads the header block: up to the blank separator line, the
// first line that is neither a header field nor a continuation (Postfix
// takes it as the start of the body), the end of input, or the line that
// takes the block past limit bytes. With skipFrom, a first line starting
// with "From " (an mbox envelope line, as sendmail input may have) is
// dropped.
func readHeader(r *bufio.Reader, limit int, skipFrom bool) (headerBlock, error) {
	var hb headerBlock
	used := 0
	for first := true; ; first = false {
		// The +2 lets the blank separator line end a block of exactly
		// limit bytes.
		raw, complete, err := readRawLine(r, limit-used+2)
		if err != nil && !errors.Is(err, io.EOF) {
			return hb, err
		}
		if !complete {
			hb.rest = raw
			return hb, nil
		}
		hb.eof = err != nil
		if len(raw) == 0 {
			return hb, nil
		}
		used += len(raw)
		line := trimEOL(raw)
		switch {
		case first && skipFrom && strings.HasPrefix(line, "From "):
		case line == "":
			return hb, nil
		case (line[0] == ' ' || line[0] == '\t') && len(hb.fields) > 0:
			hb.fields[len(hb.fields)-1].text += "\n" + line
		case isHeaderLine(line):
			hb.fields = append(hb.fields, field{key: fieldKey(line), text: line})
		default:
			hb.rest = raw
			return hb, nil
		}
		if hb.eof {
			return hb, nil
		}
	}
}

// PeekMessageID returns the value of the Message-Id field in the header
// at the start of br, "" when there is none, without consuming anything:
// for the log line of mail queued as it is (a copy that local forwards),
// as Postfix's cleanup logs it for all mail. Only what fits in br's
// buffer is looked at.
func PeekMessageID(br *bufio.Reader) string {
	b, _ := br.Peek(br.Size())
	if len(b) == 0 {
		return ""
	}
	hb, _ := readHeader(bufio.NewReader(bytes.NewReader(b)), len(b), true)
	return headerValue(hb.fields, "message-id")
}
