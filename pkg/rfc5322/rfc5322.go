// Package rfc5322 holds lexical pieces of RFC 5322 addresses that more
// than one of tern's address parsers needs: sendmail's parser of its
// command line and -t headers, and the header rewriting of pkg/rewrite.
// It imports nothing beyond the standard library, so that the small
// sendmail binary stays small.
package rfc5322

// CommentEnd returns the index after the comment, nested ones included
// (RFC 5322 section 3.2.2), that starts with the '(' at s[i]. A backslash
// quotes the next character. closed is false when the comment does not
// end; end is then len(s).
func CommentEnd(s string, i int) (end int, closed bool) {
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(s), false
}
