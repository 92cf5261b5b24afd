package client

import (
	"context"
	"strings"
)

// xforwardOrder is the order in which XFORWARD attributes are sent.
var xforwardOrder = []string{"NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE"}

// xforwardLineMax keeps each XFORWARD command within the 512 octets of
// an SMTP command line (RFC 5321 section 4.5.3.1.4) with its CRLF.
const xforwardLineMax = 510

// XforwardCommands builds the XFORWARD commands for the attributes the
// server announced (its EHLO keyword's parameters): each value xtext
// encoded, [UNAVAILABLE] for an empty one, as many commands as the line
// length needs.
func XforwardCommands(announced string, attrs map[string]string) []string {
	var cmds []string
	line := "XFORWARD"
	for _, name := range xforwardOrder {
		if !hasWord(announced, name) {
			continue
		}
		v, ok := attrs[name]
		if !ok {
			continue
		}
		enc := "[UNAVAILABLE]"
		if v != "" {
			enc = xtext(v)
		}
		item := " " + name + "=" + enc
		if len(line)+len(item) > xforwardLineMax && line != "XFORWARD" {
			cmds = append(cmds, line)
			line = "XFORWARD"
		}
		line += item
	}
	if line != "XFORWARD" {
		cmds = append(cmds, line)
	}
	return cmds
}

// sendXforward sends XFORWARD before the transaction when the message
// carries attributes and the server offers the command (Postfix's
// smtp_send_xforward_command). A refused XFORWARD fails the delivery
// temporarily, as the server is not the content filter it should be.
func (t *txn) sendXforward(ctx context.Context) error {
	s := t.s
	announced, ok := s.ext["XFORWARD"]
	if len(t.m.XForward) == 0 || !ok {
		return nil
	}
	for _, c := range XforwardCommands(announced, t.m.XForward) {
		if len(c) > xforwardLineMax {
			continue // a value too long to forward at all
		}
		r, err := s.cmd(ctx, StageMail, s.to.Mail, c)
		if err != nil {
			return err
		}
		if !r.Positive() {
			e := s.replyError(StageMail, r.Reply)
			e.Temporary = true
			if strings.HasPrefix(e.Status, "5") {
				e.Status = "4" + e.Status[1:]
			}
			return e
		}
	}
	return nil
}
