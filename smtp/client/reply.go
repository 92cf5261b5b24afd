package client

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tern-mta/tern/pkg/reply"
)

// Limits on what the client accepts from a server, so that a broken or
// hostile server cannot make it buffer without bound.
const (
	maxReplyLine  = 2048 // bytes kept of one reply line (Postfix line_length_limit)
	maxReplyLines = 1000 // lines in one multi-line reply
)

// errMalformed is wrapped by every reply that does not follow RFC 5321
// section 4.2.
var errMalformed = errors.New("malformed server reply")

// Reply is one server reply as the client saw it.
type Reply struct {
	Code int
	// Enhanced is the RFC 3463 status code of the first line, or, when the
	// server sent none, one made up from the reply code ("5.0.0"), as
	// Postfix does for its delivery status notifications.
	Enhanced string
	// Text is the whole reply as Postfix quotes it in logs and DSNs, the
	// lines with their codes joined by spaces:
	// "550 5.1.1 <x@y>: Recipient address rejected: User unknown".
	Text string
}

// Permanent reports a 5xx reply.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// Temporary reports a 4xx reply.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Positive reports a 2xx reply.
func (r Reply) Positive() bool { return r.Code >= 200 && r.Code < 300 }

// String returns Text.
func (r Reply) String() string { return r.Text }

// localReply is a reply that the client makes up itself, without a server
// having said it (size limit, SMTPUTF8 missing). Its Text carries no code,
// as Postfix logs such reasons.
func localReply(code int, enhanced, format string, args ...any) Reply {
	return Reply{Code: code, Enhanced: enhanced, Text: fmt.Sprintf(format, args...)}
}

// response is a parsed reply together with the text of each line after
// the code and separator, which EHLO and AUTH need.
type response struct {
	Reply
	lines []string
}

// readReply reads one possibly multi-line reply (RFC 5321 section 4.2.1).
// A line must start with three digits, the first of them 2 to 5, followed
// by '-' (more lines follow), ' ' or the end of the line (the last line).
func readReply(br *bufio.Reader) (response, error) {
	var raw, texts []string
	code := 0
	for n := 0; ; n++ {
		if n >= maxReplyLines {
			return response{}, fmt.Errorf("%w: more than %d lines", errMalformed, maxReplyLines)
		}
		line, err := readLine(br)
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return response{}, err
		}
		c, more, text, ok := splitReplyLine(line)
		if !ok {
			return response{}, fmt.Errorf("%w: %q", errMalformed, clean(line))
		}
		if n > 0 && c != code {
			return response{}, fmt.Errorf("%w: code %d after %d", errMalformed, c, code)
		}
		code = c
		raw = append(raw, clean(line))
		texts = append(texts, clean(text))
		if !more {
			break
		}
	}
	r := response{Reply: Reply{Code: code, Text: strings.Join(raw, " ")}, lines: texts}
	r.Enhanced = enhancedOf(code, texts[0])
	return r, nil
}

// splitReplyLine splits "250-text" into its code, whether more lines
// follow, and the text.
func splitReplyLine(line string) (code int, more bool, text string, ok bool) {
	if len(line) < 3 || line[0] < '2' || line[0] > '5' {
		return 0, false, "", false
	}
	for i := 1; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return 0, false, "", false
		}
	}
	code, _ = strconv.Atoi(line[:3])
	if len(line) == 3 {
		return code, false, "", true
	}
	switch line[3] {
	case '-':
		return code, true, line[4:], true
	case ' ':
		return code, false, line[4:], true
	}
	return 0, false, "", false
}

// enhancedOf returns the RFC 3463 code at the start of text when its class
// matches the reply code, or else "X.0.0" made from the reply code.
func enhancedOf(code int, text string) string {
	first, _, _ := strings.Cut(text, " ")
	if reply.IsEnhanced(first) && int(first[0]-'0') == code/100 {
		return first
	}
	return fmt.Sprintf("%d.0.0", code/100)
}

// readLine reads one line ending in LF (a CR before it is removed). Bytes
// beyond maxReplyLine are read and dropped.
func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if room := maxReplyLine - len(b); room > 0 {
			if len(chunk) > room {
				b = append(b, chunk[:room]...)
			} else {
				b = append(b, chunk...)
			}
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(b) > 0 && errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	s := strings.TrimSuffix(string(b), "\n")
	return strings.TrimSuffix(s, "\r"), nil
}

// clean replaces control characters and invalid UTF-8 with '?', as
// Postfix does before it logs what a server said.
func clean(s string) string {
	if utf8.ValidString(s) && !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n <= 1) || isControl(r) {
			b.WriteByte('?')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// parseEHLO returns the extensions of an EHLO or LHLO reply: the first
// line is the server's name, each further line a keyword (upper-cased)
// and its parameters. The pre-standard "AUTH=LOGIN PLAIN" form counts as
// AUTH when the server announces no plain AUTH line.
func parseEHLO(lines []string) map[string]string {
	ext := make(map[string]string)
	legacyAuth := ""
	for i, l := range lines {
		if i == 0 {
			continue
		}
		f := strings.Fields(l)
		if len(f) == 0 || len(f[0]) > 64 {
			continue
		}
		kw, param := strings.ToUpper(f[0]), strings.Join(f[1:], " ")
		if strings.HasPrefix(kw, "AUTH=") {
			legacyAuth = strings.TrimSpace(kw[len("AUTH="):] + " " + param)
			continue
		}
		ext[kw] = param
	}
	if _, ok := ext["AUTH"]; !ok && legacyAuth != "" {
		ext["AUTH"] = legacyAuth
	}
	return ext
}

// sizeLimit returns the SIZE parameter of RFC 1870 section 4, or 0 when
// the server announces no limit (or SIZE without a usable number).
func sizeLimit(ext map[string]string) int64 {
	p, ok := ext["SIZE"]
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(p, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
