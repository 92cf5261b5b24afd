package qmgr

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/milters"
)

// localFilter is what non_smtpd_milters decided about a message from
// sendmail.
type localFilter struct {
	content io.Reader // the message as the milters left it
	hold    bool      // a milter quarantined it
	discard bool      // a milter discarded it
	// filter and redirect are milter_header_checks' FILTER and REDIRECT.
	filter, redirect string
	close            func() // releases the spooled content
}

// filterLocal shows a message from sendmail to non_smtpd_milters, as
// Postfix's cleanup does: the content is kept in a spool, the milters see
// a connection from localhost and may reject, discard, quarantine or
// change it. body is read to its end here; a message over the size limit
// is refused before any milter sees it.
func (m *Manager) filterLocal(env *envelope.Envelope, body *limitReader) (*localFilter, error) {
	sp := &milters.Spool{}
	if _, err := io.Copy(sp, body); err != nil {
		sp.Close()
		return nil, fmt.Errorf("read message: %w", err)
	}
	if body.over {
		sp.Close()
		return nil, &rejection{code: exUnavailable, dsn: "5.3.4", text: "message file too big"}
	}
	client := milters.Client{Name: "localhost", Helo: m.settings.myHostname, Addr: netip.MustParseAddr("127.0.0.1")}
	macros := milter.NewMacroBag()
	macros.Set(milter.MacroMTAFQDN, m.settings.myHostname)
	macros.Set(milter.MacroDaemonName, m.cfg.Get("milter_macro_daemon_name"))
	macros.Set("v", m.cfg.Get("milter_macro_v"))
	macros.Set(milter.MacroQueueId, env.ID)
	macros.Set(milter.MacroRFC1413AuthInfo, "localhost [127.0.0.1]")
	macros.Set(milter.MacroClientAddr, "127.0.0.1")
	macros.Set(milter.MacroClientName, "localhost")
	macros.Set(milter.MacroMailAddr, env.Sender)
	if i := strings.LastIndexByte(env.Sender, '@'); i >= 0 {
		macros.Set(milter.MacroMailHost, env.Sender[i+1:])
	}
	msg, r := milters.Filter(m.localMilters, client, env.Sender, env.Recipients, sp, macros, m.log.Warnf)
	if !r.IsZero() {
		sp.Close()
		code := exDataErr
		if r.Code/100 == 4 {
			code = exTempFail
		}
		m.log.Infof("%s: milter-reject: END-OF-MESSAGE from local; from=<%s>: %s", env.ID, env.Sender, r)
		return nil, &rejection{code: code, dsn: r.Enhanced, text: r.Text, smtp: r.Code}
	}
	for _, a := range m.milterChecks.Check(msg, m.log.Warnf) {
		m.log.Infof("%s: %s: header %s from local; from=<%s>%s", env.ID, a.Action, a.Header, env.Sender, strings.TrimSuffix(": "+a.Text, ": "))
	}
	if msg.Discard {
		sp.Close()
		m.log.Infof("%s: milter-discard: END-OF-MESSAGE from local; from=<%s>: milter triggers DISCARD action", env.ID, env.Sender)
		return &localFilter{discard: true, close: func() {}}, nil
	}
	if len(msg.Rcpts) == 0 {
		sp.Close()
		return nil, &rejection{code: exDataErr, dsn: "5.7.1", text: "milters removed every recipient"}
	}
	if msg.Hold {
		m.log.Infof("%s: milter-hold: END-OF-MESSAGE from local; from=<%s>: milter triggers HOLD action", env.ID, env.Sender)
	}
	env.Sender, env.Recipients = msg.Sender, msg.Rcpts
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(msg.Write(pw)) }()
	return &localFilter{content: pr, hold: msg.Hold, filter: msg.Filter, redirect: msg.Redirect, close: func() { pr.Close(); sp.Close() }}, nil
}
