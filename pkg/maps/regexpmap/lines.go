package regexpmap

import (
	"strings"

	"github.com/tern-mta/tern/pkg/maps/tablefile"
)

// spaces are the characters Postfix's ISSPACE accepts.
const spaces = tablefile.Spaces

// isSpace reports whether c is whitespace as Postfix defines it.
func isSpace(c byte) bool {
	return strings.IndexByte(spaces, c) >= 0
}
