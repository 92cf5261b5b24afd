package smtpd

import (
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/reply"
)

// rejectFooter is what smtpd_reject_footer adds to a 4xx or 5xx reply,
// as in Postfix: a line of its own, or, when the footer starts with \c,
// the end of the reply's last line; \n in it breaks lines. $client_address,
// $client_name, $client_port, $localtime and $server_name are expanded.
// "" when there is no footer. smtpd_reject_footer_maps, searched with the
// reply r, gives the footer of some replies.
func (s *session) rejectFooter(r reply.Reply) string {
	f := s.srv.set.rejectFooter
	if len(s.srv.set.rejectFooterMaps) > 0 {
		// smtpd_reject_footer_maps: looked up with the whole reply,
		// "550 5.7.1 text", its footer wins over smtpd_reject_footer.
		v, found, err := maps.LookupFirst(s.srv.set.rejectFooterMaps, r.String())
		switch {
		case err != nil:
			s.srv.log.Warnf("smtpd_reject_footer_maps: %v", err)
		case found:
			f = strings.TrimSpace(v)
		}
	}
	if f == "" {
		return ""
	}
	vars := map[string]string{
		"client_address": s.client.addr.String(), "client_name": s.client.name,
		"client_port": strconv.Itoa(s.client.port), "server_name": s.srv.set.hostname,
		"localtime": time.Now().Format(time.Stamp),
	}
	text, err := config.ExpandVars(f, vars)
	if err != nil {
		s.srv.log.Warnf("smtpd_reject_footer: %v", err)
		return ""
	}
	text = strings.ReplaceAll(text, `\n`, "\n")
	if rest, ok := strings.CutPrefix(text, `\c`); ok {
		return rest
	}
	return "\n" + text
}
