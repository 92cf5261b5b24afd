// Package lmtp is tern's lmtp(8) delivery agent: the smtp agent speaking
// LMTP (RFC 2033) to a unix socket or a TCP port, as in
// virtual_transport = lmtp:unix:private/dovecot-lmtp.
package lmtp

import "github.com/tern-mta/tern/smtp"

// Main is the entry of `tern daemon lmtp`.
func Main(args []string) int { return smtp.MainLMTP(args) }
