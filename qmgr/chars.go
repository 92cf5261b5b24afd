package qmgr

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// charSet is a set of bytes, from message_reject_characters or
// message_strip_characters.
type charSet [256]bool

// parseCharSet reads Postfix's notation of those parameters: characters
// as they are, and the C escapes \a \b \f \n \r \t \v, \ddd (one to three
// octal digits) and \\.
func parseCharSet(param, v string) (*charSet, error) {
	if v == "" {
		return nil, nil
	}
	var set charSet
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			set[c] = true
			continue
		}
		i++
		if i >= len(v) {
			return nil, fmt.Errorf("%s: a backslash ends the value", param)
		}
		if e := strings.IndexByte(`abfnrtv\`, v[i]); e >= 0 {
			set["\a\b\f\n\r\t\v\\"[e]] = true
			continue
		}
		j := i
		for j < len(v) && j < i+3 && v[j] >= '0' && v[j] <= '7' {
			j++
		}
		if j == i {
			return nil, fmt.Errorf("%s: unknown escape \\%c", param, v[i])
		}
		n, err := strconv.ParseUint(v[i:j], 8, 16)
		if err != nil || n > 255 {
			return nil, fmt.Errorf("%s: \\%s is not a byte", param, v[i:j])
		}
		set[n] = true
		i = j - 1
	}
	return &set, nil
}

// loadCharSets reads message_reject_characters and
// message_strip_characters into set.
func loadCharSets(cfg *config.Config, set *settings) error {
	var err error
	if set.rejectChars, err = parseCharSet("message_reject_characters", cfg.Get("message_reject_characters")); err != nil {
		return err
	}
	set.stripChars, err = parseCharSet("message_strip_characters", cfg.Get("message_strip_characters"))
	return err
}

// charFilter passes message content on without the bytes of strip and
// notes whether any byte of reject went by.
type charFilter struct {
	r             io.Reader
	strip, reject *charSet
	rejected      bool
}

func (f *charFilter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	out := 0
	for _, c := range p[:n] {
		if f.reject != nil && f.reject[c] {
			f.rejected = true
		}
		if f.strip != nil && f.strip[c] {
			continue
		}
		p[out] = c
		out++
	}
	return out, err
}
