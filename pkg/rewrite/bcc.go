package rewrite

import "strings"

// BCC returns the automatic blind carbon copy recipients of a message from
// sender to rcpts, as Postfix's cleanup(8) adds them to mail that enters
// from outside: always_bcc, then the sender_bcc_maps result for the sender
// (not for the null sender), then the recipient_bcc_maps result for each
// recipient, each address qualified and listed once. The tables are
// searched as canonical(5) tables are. A table that can't be searched is
// an error, which delays the message like any rewriting error.
func (s *Settings) BCC(sender string, rcpts []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(addrs ...string) {
		for _, a := range addrs {
			if key := strings.ToLower(a); a != "" && !seen[key] {
				seen[key] = true
				out = append(out, a)
			}
		}
	}
	if s.AlwaysBCC != "" {
		a := s.AlwaysBCC
		if s.Qualify != nil {
			a = s.Qualify(a)
		}
		add(a)
	}
	if sender != "" && len(s.SenderBCC) > 0 {
		addrs, _, err := s.mapAddr(s.SenderBCC, "sender_bcc_maps", sender, false)
		if err != nil {
			return nil, err
		}
		add(addrs...)
	}
	if len(s.RecipientBCC) > 0 {
		for _, r := range rcpts {
			addrs, _, err := s.mapAddr(s.RecipientBCC, "recipient_bcc_maps", r, false)
			if err != nil {
				return nil, err
			}
			add(addrs...)
		}
	}
	return out, nil
}
