package sasl

import (
	"fmt"
	"strings"
)

// Mechanism is a SASL mechanism that a back end offers, with its
// security properties.
type Mechanism struct {
	Name  string
	Props Props
}

// Props are security properties of a SASL mechanism, named as in
// Dovecot's MECH flags and Postfix's smtpd_sasl_security_options.
type Props uint8

const (
	// PropAnonymous: the mechanism needs no credentials.
	PropAnonymous Props = 1 << iota
	// PropPlaintext: the password crosses the connection (PLAIN, LOGIN).
	PropPlaintext
	// PropDictionary: open to passive dictionary attacks (CRAM-MD5).
	PropDictionary
	// PropActive: open to active, non-dictionary attacks.
	PropActive
	// PropForwardSecrecy: past sessions stay safe if the password leaks.
	PropForwardSecrecy
	// PropMutualAuth: the server proves itself to the client too.
	PropMutualAuth
)

// dovecotProps maps Dovecot's MECH flags to properties.
var dovecotProps = map[string]Props{
	"anonymous":       PropAnonymous,
	"plaintext":       PropPlaintext,
	"dictionary":      PropDictionary,
	"active":          PropActive,
	"forward-secrecy": PropForwardSecrecy,
	"mutual-auth":     PropMutualAuth,
}

// Policy is a parsed smtpd_sasl_security_options value (or one of its
// relatives): the properties a mechanism must not have and those it must
// have.
type Policy struct {
	Deny    Props
	Require Props
}

// securityOptions maps the option words of Postfix's
// smtpd_sasl_security_options to what they demand.
var securityOptions = map[string]Policy{
	"noanonymous":     {Deny: PropAnonymous},
	"noplaintext":     {Deny: PropPlaintext},
	"nodictionary":    {Deny: PropDictionary},
	"noactive":        {Deny: PropActive},
	"forward_secrecy": {Require: PropForwardSecrecy},
	"mutual_auth":     {Require: PropMutualAuth},
}

// ParsePolicy parses the words of smtpd_sasl_security_options,
// smtp_sasl_security_options or their _tls_ forms, such as
// ["noanonymous", "noplaintext"]. An empty list allows every mechanism.
func ParsePolicy(words []string) (Policy, error) {
	var p Policy
	for _, w := range words {
		o, ok := securityOptions[strings.ToLower(w)]
		if !ok {
			return Policy{}, fmt.Errorf("unknown SASL security option %q (known: noanonymous, noplaintext, nodictionary, noactive, forward_secrecy, mutual_auth)", w)
		}
		p.Deny |= o.Deny
		p.Require |= o.Require
	}
	return p, nil
}

// Allows reports whether a mechanism with props may be used.
func (p Policy) Allows(props Props) bool {
	return props&p.Deny == 0 && props&p.Require == p.Require
}

// Allowed returns the names of the mechanisms p allows, in order.
func (p Policy) Allowed(mechs []Mechanism) []string {
	var names []string
	for _, m := range mechs {
		if p.Allows(m.Props) {
			names = append(names, m.Name)
		}
	}
	return names
}
