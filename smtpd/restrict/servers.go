package restrict

import "strings"

// check_{client,reverse_client_hostname,helo,sender,recipient}_{mx,ns,a}_access:
// look up the MX hosts, the name servers or the addresses of a domain and
// search an access table for each host's name and each of its addresses,
// as Postfix's check_server_access does. A table's OK is refused for
// safety, as in Postfix: DUNNO exempts a host.

// ServerHost is one host such a restriction finds: an MX host or name
// server with its addresses, or the domain itself with its addresses.
type ServerHost struct {
	Name  string
	Addrs []string
	// Pref is an MX host's preference; Implicit marks the domain itself
	// standing in for MX hosts it does not have.
	Pref     int
	Implicit bool
}

// serverCheck says what a check_*_{mx,ns,a}_access restriction asks about.
type serverCheck struct {
	subject string // client, reverse_client, helo, sender, recipient
	rrtype  string // MX, NS or A
}

// serverChecks are the restrictions, by name.
var serverChecks = func() map[string]serverCheck {
	m := map[string]serverCheck{}
	for _, s := range []struct{ prefix, subject string }{
		{"check_client_", "client"}, {"check_reverse_client_hostname_", "reverse_client"},
		{"check_helo_", "helo"}, {"check_sender_", "sender"}, {"check_recipient_", "recipient"},
	} {
		for _, t := range []string{"mx", "ns", "a"} {
			m[s.prefix+t+"_access"] = serverCheck{subject: s.subject, rrtype: strings.ToUpper(t)}
		}
	}
	return m
}()

// checkServers runs one check_*_{mx,ns,a}_access restriction.
func (e *eval) checkServers(word, table string) status {
	sc := serverChecks[strings.ToLower(word)]
	f := &e.f
	var what, class string
	switch sc.subject {
	case "client":
		what, class = f.ClientName, classClient
	case "reverse_client":
		what, class = e.reverseName(), classRevClient
	case "helo":
		if !e.hasHelo {
			return dunno
		}
		what, class = f.Helo, classHelo
	case "sender":
		if !e.hasFrom || f.Sender == "" {
			return dunno
		}
		what, class = f.Sender, classSender
	case "recipient":
		if !e.hasRcpt {
			return dunno
		}
		what, class = f.Recipient, classRecipient
	}
	domain := listedName(what)
	if domain == "" || domain == "unknown" {
		return dunno
	}
	hosts, err := e.c.deps.ServerHosts(e.ctx, domain, sc.rrtype)
	if err != nil {
		e.logf("warning: unable to look up %s hosts of %s: %v", sc.rrtype, domain, err)
		return dunno
	}
	name := what
	if sc.subject == "client" || sc.subject == "reverse_client" {
		name = e.namaddr
	}
	lc := listCtx{name: name, class: class}
	for _, h := range hosts {
		st, found := e.checkServerHost(table, h, lc)
		if !found {
			continue
		}
		if st == permitted {
			return e.serverError("restriction %s returns OK for %s; this is not allowed for security reasons: use DUNNO to make an exception", word, h.Name)
		}
		return st
	}
	return dunno
}

// checkServerHost searches table for one host's name (and parent
// domains) and then its addresses (and their prefixes).
func (e *eval) checkServerHost(table string, h ServerHost, lc listCtx) (status, bool) {
	if h.Name != "" {
		if st, found := e.checkDomainAccess(table, strings.ToLower(h.Name), lc); found {
			return st, true
		}
	}
	for _, a := range h.Addrs {
		if st, found := e.checkAddrAccess(table, a, lc); found {
			return st, true
		}
	}
	return dunno, false
}
