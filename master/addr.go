package master

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// protocols is the parsed inet_protocols setting.
type protocols struct{ v4, v6 bool }

// parseProtocols parses inet_protocols: "all", "ipv4", "ipv6" or both
// names; empty means all, as in Postfix 3.7.
func parseProtocols(list []string) (protocols, error) {
	if len(list) == 0 {
		return protocols{true, true}, nil
	}
	var p protocols
	for _, v := range list {
		switch strings.ToLower(v) {
		case "all":
			p.v4, p.v6 = true, true
		case "ipv4":
			p.v4 = true
		case "ipv6":
			p.v6 = true
		default:
			return protocols{}, fmt.Errorf("inet_protocols: unknown protocol %q", v)
		}
	}
	return p, nil
}

// servicePort resolves an inet port number or service name; names that a
// minimal system may lack in /etc/services have a built-in fallback.
func servicePort(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		if n < 0 || n > 65535 {
			return 0, fmt.Errorf("port %d out of range", n)
		}
		return n, nil
	}
	if name == "" {
		return 0, fmt.Errorf("empty port")
	}
	if p, err := net.LookupPort("tcp", name); err == nil {
		return p, nil
	}
	switch name {
	case "smtp":
		return 25, nil
	case "submission":
		return 587, nil
	case "submissions", "smtps":
		return 465, nil
	}
	return 0, fmt.Errorf("unknown service name %q", name)
}

// inetSockets resolves the name of an inet service ("smtp", "2525",
// "127.0.0.1:25", "[::1]:25") to the addresses to bind. Without a host part
// the service listens on every address of inet_interfaces.
func inetSockets(name string, interfaces []string, proto protocols) ([]sockSpec, error) {
	host, portName := "", name
	if strings.Contains(name, ":") {
		h, p, err := net.SplitHostPort(name)
		if err != nil {
			return nil, fmt.Errorf("bad inet service name %q: %w", name, err)
		}
		host, portName = h, p
	}
	port, err := servicePort(portName)
	if err != nil {
		return nil, fmt.Errorf("inet service %s: %w", name, err)
	}
	ps := strconv.Itoa(port)
	mk := func(network, addr string, optional bool) sockSpec {
		return sockSpec{Service: name, Type: "inet", Network: network, Address: addr, Optional: optional}
	}
	if host != "" {
		return []sockSpec{mk("tcp", net.JoinHostPort(host, ps), false)}, nil
	}
	if !proto.v4 && !proto.v6 {
		return nil, fmt.Errorf("inet_protocols enables no protocol")
	}
	if len(interfaces) == 0 || contains(interfaces, "all") {
		switch {
		case proto.v4 && proto.v6:
			return []sockSpec{mk("tcp", ":"+ps, false)}, nil
		case proto.v4:
			return []sockSpec{mk("tcp4", "0.0.0.0:"+ps, false)}, nil
		default:
			return []sockSpec{mk("tcp6", "[::]:"+ps, false)}, nil
		}
	}
	var out []sockSpec
	seen := map[string]bool{}
	add := func(s sockSpec) {
		if !seen[s.Address] {
			seen[s.Address] = true
			out = append(out, s)
		}
	}
	for _, itf := range interfaces {
		if strings.EqualFold(itf, "loopback-only") {
			if proto.v4 {
				add(mk("tcp4", "127.0.0.1:"+ps, false))
			}
			if proto.v6 {
				add(mk("tcp6", "[::1]:"+ps, proto.v4))
			}
			continue
		}
		add(mk("tcp", net.JoinHostPort(strings.Trim(itf, "[]"), ps), false))
	}
	return out, nil
}

func contains(list []string, want string) bool {
	for _, v := range list {
		if strings.EqualFold(v, want) {
			return true
		}
	}
	return false
}
