package restrict

import (
	"strconv"
	"strings"
)

// checkPolicy implements check_policy_service (Postfix's
// SMTPD_POLICY_README): the policy server gets the request's attributes
// and answers with an access(5) action, which is applied as an access
// table result would be. A server that can't be asked gets
// smtpd_policy_service_default_action instead.
func (e *eval) checkPolicy(p *policyStep, lc listCtx) status {
	action, err := e.c.deps.PolicyQuery(e.ctx, p.svc, e.policyAttrs(p))
	if err != nil {
		e.logf("warning: problem talking to server %s: %v", p.svc.Addr, err)
		action = e.c.set.policyDefault
		if p.defaultAction != "" {
			action = p.defaultAction
		}
	}
	return e.tableResult(p.svc.Addr, action, lc)
}

// policyAttrs is the request: the attributes of the policy delegation
// protocol that smtpd knows, in Postfix's order.
func (e *eval) policyAttrs(p *policyStep) [][2]string {
	f := &e.f
	rcptCount := f.RecipientCount
	recipient := ""
	switch {
	case e.stage == Rcpt:
		recipient = f.Recipient
	case e.stage >= Data && f.RecipientCount == 1:
		recipient = f.Recipient
	}
	reverse := f.ReverseClientName
	if reverse == "" {
		reverse = f.ClientName
	}
	var sender string
	if e.hasFrom {
		sender = f.Sender
	}
	attrs := [][2]string{
		{"request", "smtpd_access_policy"},
		{"protocol_state", e.stage.String()},
		{"protocol_name", f.Protocol},
		{"helo_name", f.Helo},
		{"queue_id", ""},
		{"sender", sender},
		{"recipient", recipient},
		{"recipient_count", strconv.Itoa(rcptCount)},
		{"client_address", f.ClientAddr.String()},
		{"client_name", f.ClientName},
		{"reverse_client_name", reverse},
		{"instance", f.Instance},
		{"sasl_method", f.SASLMethod},
		{"sasl_username", f.SASLUser},
		{"sasl_sender", ""},
		{"size", strconv.FormatInt(f.Size, 10)},
		{"client_port", strconv.Itoa(f.ClientPort)},
		{"policy_context", policyContext(p, e.c.set.policyContext)},
	}
	if !f.ClientAddr.IsValid() {
		attrs[8][1] = ""
	}
	if c := f.ClientCert; c != nil {
		attrs = append(attrs, [2]string{"ccert_fingerprint", c.Fingerprint}, [2]string{"ccert_pubkey_fingerprint", c.PublicKeyFingerprint})
	}
	for i := range attrs {
		// A line break would end the attribute early: the protocol has
		// no quoting, so it is dropped.
		if strings.ContainsAny(attrs[i][1], "\r\n") {
			attrs[i][1] = strings.Map(func(r rune) rune {
				if r == '\r' || r == '\n' {
					return -1
				}
				return r
			}, attrs[i][1])
		}
	}
	return attrs
}

// policyContext is the braced form's policy_context, or def.
func policyContext(p *policyStep, def string) string {
	if p.context != "" {
		return p.context
	}
	return def
}
