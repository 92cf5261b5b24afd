package smtpd

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/message"
)

// The guards of the command loop: junk commands, forbidden (non-SMTP)
// commands, and the EHLO keywords a client is not offered.

// countJunk counts a junk command: past smtpd_junk_command_limit of them
// since mail was last queued, each one counts as an error too, so that a
// client looping on NOOP or RSET meets the error sleep and the hard
// error limit as Postfix's smtpd makes it.
func (s *session) countJunk() {
	s.junk++
	if s.junk > s.lim.junkLimit {
		s.errors++
	}
}

// commandList is a setting of forbidden (non-SMTP) commands:
// smtpd_forbidden_commands, whose commands end the session, or
// postscreen_forbidden_commands, whose commands fail postscreen's
// non-SMTP command test.
type commandList struct {
	param string
	words []string   // command names, upper case
	maps  []maps.Map // type:table elements, searched with an unknown command's first word
}

// loadCommandList reads the value v of param: command names, and, as in
// Postfix 3.7's default regexp:{{/^[^A-Z]/ Bogus}}, tables searched with
// the first word of a command smtpd does not know.
func loadCommandList(param, v string, opt maps.Options) (commandList, error) {
	l := commandList{param: param}
	words, err := maps.SplitSpecs(v)
	if err != nil {
		return l, fmt.Errorf("%s: %w", param, err)
	}
	for _, w := range words {
		if !strings.Contains(w, ":") {
			l.words = append(l.words, strings.ToUpper(w))
			continue
		}
		m, err := maps.Open(w, opt)
		if err != nil {
			return l, fmt.Errorf("%s: %w", param, err)
		}
		l.maps = append(l.maps, m)
	}
	return l, nil
}

// matches reports whether a command line is in the list: its verb is
// one of the names, or, for a command smtpd does not know, it looks like
// a header field ("Subject: ...", a client that skipped DATA) or a table
// matches its first word, as in Postfix.
func (l *commandList) matches(verb, line string, known bool, log *maillog.Logger) bool {
	for _, f := range l.words {
		if verb == f || strings.HasPrefix(verb, f+":") {
			return true
		}
	}
	if known {
		return false
	}
	first, _, _ := strings.Cut(line, " ")
	if strings.Contains(first, ":") && message.ValidHeaderField(first) {
		return true
	}
	for _, m := range l.maps {
		if _, found, err := m.Lookup(first); err != nil {
			log.Warnf("%s: %v", l.param, err)
		} else if found {
			return true
		}
	}
	return false
}

// discardedKeywords are the EHLO keywords not announced to this client:
// what smtpd_discard_ehlo_keyword_address_maps gives for its address,
// else smtpd_discard_ehlo_keywords. A table that cannot be searched
// leaves the latter, with a warning.
func (s *session) discardedKeywords() map[string]bool {
	set := &s.srv.set
	if len(set.discardEhloMaps) == 0 || !s.client.addr.IsValid() {
		return set.discardEhlo
	}
	v, found, err := maps.LookupFirst(set.discardEhloMaps, s.client.addr.Unmap().String())
	if err != nil {
		s.srv.log.Warnf("smtpd_discard_ehlo_keyword_address_maps: %v", err)
	}
	if !found {
		return set.discardEhlo
	}
	discard := map[string]bool{}
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		discard[strings.ToLower(w)] = true
	}
	return discard
}
