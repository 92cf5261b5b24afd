package smtpd

import (
	"crypto/tls"
	"net"
	"strconv"
	"strings"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/tlsconf"
)

// refreshMacros brings the session's milter macros up to date, as
// Postfix's smtpd defines them, so that each stage sends what its
// milter_*_macros list asks for: this host's name, the service and its
// address, the client, the SASL login, the TLS session and the client's
// trusted certificate, the sender. The queue id (i) is not among them:
// tern names a message only when qmgr queues it, after the milters.
func (s *session) refreshMacros() {
	m := s.macros
	m.Set(milter.MacroMTAFQDN, s.srv.set.hostname)
	m.Set(milter.MacroDaemonName, s.srv.set.milterDaemonName)
	m.Set(milter.MacroMTAVersion, s.srv.set.milterVersion)
	s.clientMacros(m)
	if s.authUser != "" {
		m.Set(milter.MacroAuthAuthen, s.authUser)
		m.Set(milter.MacroAuthType, s.authMech)
	}
	if s.tls != nil {
		s.tlsMacros(m)
	}
	if s.tx != nil {
		m.Set(milter.MacroMailAddr, s.tx.sender)
		_, domain := splitAddress(s.tx.sender)
		m.Set(milter.MacroMailHost, domain)
	}
}

// clientMacros sets the client's and the service's addresses: {_} is
// "name [address]" as Postfix words it, {client_ptr} the verified name
// (tern keeps no unverified one).
func (s *session) clientMacros(m *milter.MacroBag) {
	c := s.client
	m.Set(milter.MacroRFC1413AuthInfo, c.name+" ["+c.addr.String()+"]")
	m.Set(milter.MacroClientAddr, c.addr.String())
	m.Set(milter.MacroClientName, c.name)
	m.Set(milter.MacroClientPort, strconv.Itoa(c.port))
	if c.name != "unknown" {
		m.Set(milter.MacroClientPTR, c.name)
	}
	if s.conn == nil {
		return
	}
	if a, ok := s.conn.LocalAddr().(*net.TCPAddr); ok {
		ap := a.AddrPort()
		m.Set(milter.MacroDaemonAddr, ap.Addr().Unmap().String())
		m.Set(milter.MacroDaemonPort, strconv.Itoa(int(ap.Port())))
	}
}

// tlsMacros sets the TLS session's macros; {cert_subject} and
// {cert_issuer} (the common names) only for a certificate that chains to
// smtpd_tls_CAfile or smtpd_tls_CApath, as in Postfix.
func (s *session) tlsMacros(m *milter.MacroBag) {
	m.Set(milter.MacroTlsVersion, tlsconf.Name(s.tls.Version))
	m.Set(milter.MacroCipher, tls.CipherSuiteName(s.tls.CipherSuite))
	m.Set(milter.MacroCipherBits, strconv.Itoa(cipherBits(s.tls.CipherSuite)))
	if s.ccert != nil && s.ccert.Trusted && len(s.tls.PeerCertificates) > 0 {
		leaf := s.tls.PeerCertificates[0]
		m.Set(milter.MacroCertSubject, leaf.Subject.CommonName)
		m.Set(milter.MacroCertIssuer, leaf.Issuer.CommonName)
	}
}

// cipherBits is the symmetric key length of a TLS cipher suite, as
// OpenSSL reports it.
func cipherBits(suite uint16) int {
	name := tls.CipherSuiteName(suite)
	switch {
	case strings.Contains(name, "AES_128"):
		return 128
	case strings.Contains(name, "3DES"):
		return 112
	}
	return 256 // AES_256, CHACHA20_POLY1305
}
