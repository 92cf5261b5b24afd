package maillog

import (
	"strconv"
	"strings"
)

// Escape writes client input for a log line, as Postfix's escape() does:
// CR and LF as \r and \n, other control characters and bytes past ASCII
// as octal C escapes.
func Escape(b []byte) string {
	var out strings.Builder
	for _, c := range b {
		switch {
		case c == '\r':
			out.WriteString(`\r`)
		case c == '\n':
			out.WriteString(`\n`)
		case c < ' ' || c >= 0x7f:
			out.WriteString(`\` + strconv.FormatUint(uint64(c), 8))
		default:
			out.WriteByte(c)
		}
	}
	return out.String()
}
