package smtpd

import (
	"strings"

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

// forbiddenCommand reports whether a command line ends the session: its
// verb is in smtpd_forbidden_commands, or, for a command smtpd does not
// know, it looks like a header field ("Subject: ...", a client that
// skipped DATA) or a smtpd_forbidden_commands table matches its first
// word, as in Postfix.
func (s *session) forbiddenCommand(verb, line string, known bool) bool {
	for _, f := range s.srv.set.forbidden {
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
	for _, m := range s.srv.set.forbiddenMaps {
		if _, found, err := m.Lookup(first); err != nil {
			s.srv.log.Warnf("smtpd_forbidden_commands: %v", err)
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
