package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultDir is the configuration directory used when neither a flag nor
// $MAIL_CONFIG names another one.
const DefaultDir = "/etc/tern"

// maxLineBytes bounds one physical line of a configuration file.
const maxLineBytes = 1 << 20

// Error is a configuration error located in a file. Line is 1-based; it is
// 0 when the problem is not tied to one line (for example a computed
// default that became invalid).
type Error struct {
	File string
	Line int
	Msg  string
}

// Error returns "FILE:LINE: MSG", or "FILE: MSG" when Line is 0.
func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// logicalLine is one definition after continuation lines were joined.
type logicalLine struct {
	text string
	line int // line number of its first physical line
}

// readLogicalLines splits r into logical lines the Postfix way: blank lines
// and lines whose first non-blank character is '#' are skipped, and a line
// that starts with whitespace continues the previous logical line. The
// pieces are joined with a single space.
func readLogicalLines(name string, r io.Reader) ([]logicalLine, error) {
	br := bufio.NewReader(r)
	var out []logicalLine
	for n := 1; ; n++ {
		raw, err := readPhysical(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Line: n, Msg: err.Error()}
		}
		if raw == "" && errors.Is(err, io.EOF) {
			return out, nil
		}
		trimmed := strings.TrimFunc(raw, isSpaceRune)
		switch {
		case trimmed == "" || trimmed[0] == '#':
			// blank or comment line
		case isSpace(raw[0]):
			if len(out) == 0 {
				return nil, &Error{File: name, Line: n, Msg: "continuation line without a preceding definition"}
			}
			last := &out[len(out)-1]
			last.text += " " + trimmed
		default:
			out = append(out, logicalLine{text: strings.TrimRightFunc(raw, isSpaceRune), line: n})
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
	}
}

// readPhysical reads one line without its terminating newline. It returns
// io.EOF with the last (unterminated) line, if any.
func readPhysical(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		chunk, isPrefix, err := br.ReadLine()
		sb.Write(chunk)
		if sb.Len() > maxLineBytes {
			return "", fmt.Errorf("line longer than %d bytes", maxLineBytes)
		}
		if err != nil {
			return sb.String(), err
		}
		if !isPrefix {
			return sb.String(), nil
		}
	}
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\r' || b == '\n' || b == '\v' || b == '\f'
}

func isSpaceRune(r rune) bool { return r < 0x80 && isSpace(byte(r)) }
