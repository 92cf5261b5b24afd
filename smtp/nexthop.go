package smtp

import (
	"fmt"

	"net"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/smtp/client"
)

// destination is a parsed next hop: where one delivery goes.
type destination struct {
	// network is "tcp" or "unix" (LMTP only).
	network string
	// host is a domain (MX lookup), a host name or an address literal.
	host string
	// port is the TCP port; path the unix socket.
	port int
	path string
	// mx is true when the host's MX records decide where to connect.
	mx bool
	// auth is the login for this delivery (smtp_sasl_password_maps), nil
	// for none.
	auth *client.Auth
}

// cacheKey names the destination in the session cache: a session is
// reused only for the same next hop and the same login, which
// smtp_sender_dependent_authentication makes a matter of the sender.
func (d destination) cacheKey() string {
	if d.auth == nil {
		return d.key()
	}
	return d.key() + " " + d.auth.User
}

// key names the destination for the connection cache and logs.
func (d destination) key() string {
	if d.network == "unix" {
		return "unix:" + d.path
	}
	h := d.host
	if !d.mx {
		h = "[" + h + "]"
	}
	return h + ":" + strconv.Itoa(d.port)
}

// parseNexthop reads a next hop as Postfix writes them in transport_maps,
// relayhost and lmtp transports:
//
//	example.com         MX lookup, default port
//	example.com:587     MX lookup, that port
//	[mx.example.com]    no MX lookup
//	[192.0.2.1]:2525    no MX lookup, that port
//	inet:host:port      (lmtp) no MX lookup
//	unix:/path, unix:private/name (lmtp) a unix socket, relative names
//	                    from queueDir
//
// lmtp never looks up MX records, as Postfix's lmtp does not.
func parseNexthop(hop string, lmtp bool, defaultPort int, queueDir string) (destination, error) {
	hop = strings.TrimSpace(hop)
	if hop == "" {
		return destination{}, fmt.Errorf("empty next hop")
	}
	if rest, ok := strings.CutPrefix(hop, "unix:"); ok {
		if !lmtp {
			return destination{}, fmt.Errorf("next hop %q: unix sockets are for lmtp", hop)
		}
		if rest == "" {
			return destination{}, fmt.Errorf("next hop %q: no socket path", hop)
		}
		if !strings.HasPrefix(rest, "/") {
			rest = strings.TrimSuffix(queueDir, "/") + "/" + rest
		}
		return destination{network: "unix", path: rest}, nil
	}
	hop = strings.TrimPrefix(hop, "inet:")
	d := destination{network: "tcp", port: defaultPort, mx: !lmtp}
	hostPart := hop
	if strings.HasPrefix(hop, "[") {
		end := strings.IndexByte(hop, ']')
		if end < 0 {
			return destination{}, fmt.Errorf("next hop %q: missing ]", hop)
		}
		d.host, d.mx = hop[1:end], false
		hostPart = hop[end+1:]
		if hostPart != "" && !strings.HasPrefix(hostPart, ":") {
			return destination{}, fmt.Errorf("next hop %q: junk after ]", hop)
		}
		hostPart = strings.TrimPrefix(hostPart, ":")
		if hostPart != "" {
			p, err := parsePort(hostPart)
			if err != nil {
				return destination{}, fmt.Errorf("next hop %q: %w", hop, err)
			}
			d.port = p
		}
	} else {
		host, port, _ := strings.Cut(hostPart, ":")
		d.host = host
		if port != "" { // "host:" keeps the default port, as "[host]:" does
			p, err := parsePort(port)
			if err != nil {
				return destination{}, fmt.Errorf("next hop %q: %w", hop, err)
			}
			d.port = p
		}
	}
	d.host = strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(d.host), "ipv6:"), ".")
	if d.host == "" {
		return destination{}, fmt.Errorf("next hop %q: no host", hop)
	}
	return d, nil
}

// parsePort reads a port number or a service name ("smtp", "lmtp").
func parsePort(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 65535 {
			return 0, fmt.Errorf("bad port %q", s)
		}
		return n, nil
	}
	switch s {
	case "smtp":
		return 25, nil
	case "lmtp":
		return 24, nil
	case "submission":
		return 587, nil
	case "smtps", "submissions":
		return 465, nil
	}
	n, err := net.LookupPort("tcp", s)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("unknown port %q", s)
	}
	return n, nil
}
