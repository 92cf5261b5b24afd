package smtpd

import (
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/tern-mta/tern/pkg/maps"
)

// tls_server_sni_maps (Postfix 3.4): the certificate a client gets when
// it names a server in the TLS SNI extension. The table is searched with
// the name, then with each parent domain after a dot (".example.com");
// its value is a key and its certificate chain in PEM, base64-encoded as
// "postmap -F" (tern map -F) stores the files a source line names, or,
// in a table not built so, the names of such files. A name the table
// does not know gets smtpd's own certificate.

// sniCertificates picks the certificate of an SNI name.
type sniCertificates struct {
	maps []maps.Map
	mu   sync.Mutex
	// parsed keeps the certificates of the values seen, so that a
	// handshake does not parse PEM.
	parsed map[string]*tls.Certificate
}

// certificate implements tls.Config.GetCertificate: nil for a name the
// table does not know (the default certificate then), an error for a
// table or a value that cannot be read, which fails the handshake.
func (s *sniCertificates) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" {
		return nil, nil
	}
	v, found, err := s.lookup(name)
	if err != nil || !found {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.parsed[v]; ok {
		return c, nil
	}
	pem, err := sniPEM(v)
	if err != nil {
		return nil, fmt.Errorf("tls_server_sni_maps: %s: %w", name, err)
	}
	c, err := tls.X509KeyPair(pem, pem)
	if err != nil {
		return nil, fmt.Errorf("tls_server_sni_maps: %s: %w", name, err)
	}
	if s.parsed == nil {
		s.parsed = map[string]*tls.Certificate{}
	}
	s.parsed[v] = &c
	return &c, nil
}

// lookup searches the tables with name, then its parent domains.
func (s *sniCertificates) lookup(name string) (string, bool, error) {
	keys := []string{name}
	for rest := name; ; {
		_, parent, ok := strings.Cut(rest, ".")
		if !ok || parent == "" {
			break
		}
		keys = append(keys, "."+parent)
		rest = parent
	}
	for _, k := range keys {
		v, found, err := maps.LookupFirst(s.maps, k)
		if err != nil {
			return "", false, fmt.Errorf("tls_server_sni_maps: %w", err)
		}
		if found {
			return strings.TrimSpace(v), true, nil
		}
	}
	return "", false, nil
}

// sniPEM turns a table value into PEM: base64-encoded PEM, or the names
// of PEM files.
func sniPEM(v string) ([]byte, error) {
	if b, err := base64.StdEncoding.DecodeString(v); err == nil && strings.Contains(string(b), "-----BEGIN") {
		return b, nil
	}
	var all []byte
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		all = append(append(all, b...), '\n')
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("empty value")
	}
	return all, nil
}
