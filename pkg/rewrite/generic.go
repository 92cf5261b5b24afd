package rewrite

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// GenericFromConfig builds the Settings of smtp_generic_maps, the
// rewriting Postfix's smtp(8) does to outgoing mail (generic(5)), for
// example of user@host.localdomain to an address the Internet accepts.
// It reads smtp_generic_maps, recipient_delimiter, double_bounce_sender,
// propagate_unmatched_extensions and the local domain parameters of
// FromConfig. It returns nil, and no error, when smtp_generic_maps is
// empty.
func GenericFromConfig(get func(name string) string, open func(list string) ([]maps.Map, error)) (*Settings, error) {
	list := strings.TrimSpace(get("smtp_generic_maps"))
	if list == "" {
		return nil, nil
	}
	s := &Settings{RecipientDelimiter: get("recipient_delimiter"), DoubleBounceSender: get("double_bounce_sender")}
	ms, err := open(list)
	if err != nil {
		return nil, fmt.Errorf("smtp_generic_maps: %w", err)
	}
	s.Generic = ms
	if s.PropagateUnmatched, err = ParsePropagate(get("propagate_unmatched_extensions")); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.configLocal(get, open); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// GenericAddress rewrites one envelope or header address with
// smtp_generic_maps, in the lookup order of canonical(5) (user@domain,
// user for local domains, @domain), once: as in Postfix, the result is not
// looked up again. The null sender is returned as it is.
func (s *Settings) GenericAddress(addr string) (string, error) {
	if addr == "" || len(s.Generic) == 0 {
		return addr, nil
	}
	res, found, err := s.mapAddr(s.Generic, "smtp_generic_maps", addr, s.propagates("generic"))
	if err != nil || !found {
		return addr, err
	}
	if len(res) > 1 {
		s.warn(fmt.Sprintf("multi-valued smtp_generic_maps entry for %s", addr))
	}
	return res[0], nil
}

// GenericHeaderLine is HeaderLine with smtp_generic_maps: the addresses of
// sender and recipient headers alike are rewritten.
func (s *Settings) GenericHeaderLine(name, value string) (out string, changed bool, err error) {
	return rewriteHeader(name, value, func(addr string, _ Class) (string, error) { return s.GenericAddress(addr) })
}
