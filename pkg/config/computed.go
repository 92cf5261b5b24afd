package config

import (
	"net"
	"os"
	"strconv"
	"strings"
)

// isComputed reports whether name's default depends on the machine or on
// other parameters in a way a fixed default string cannot express.
func isComputed(name string) bool {
	switch name {
	case "myhostname", "mydomain", "mynetworks":
		return true
	}
	return false
}

// computed returns the default of a computed parameter.
func (e *expander) computed(name string) (string, error) {
	switch name {
	case "myhostname":
		return e.c.hostname, nil
	case "mydomain":
		host, err := e.value("myhostname")
		return domainOf(host), err
	default: // mynetworks
		style, err := e.value("mynetworks_style")
		return networksFor(style), err
	}
}

// systemHostname returns the machine's name, made fully qualified by
// appending .localdomain when it has no dot.
func systemHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return qualify(h)
}

func qualify(h string) string {
	h = strings.TrimSuffix(h, ".")
	if !strings.Contains(h, ".") {
		h += ".localdomain"
	}
	return h
}

// domainOf strips the first label of a host name.
func domainOf(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 && i+1 < len(host) {
		return host[i+1:]
	}
	return "localdomain"
}

const loopbackNetworks = "127.0.0.0/8 [::1]/128"

// networksFor computes mynetworks for a mynetworks_style. "host" gives the
// loopback networks only (Postfix also lists the host's own addresses);
// "subnet" adds the subnets of the machine's interfaces; "class" widens
// IPv4 subnets to their class A, B or C network.
func networksFor(style string) string {
	style = strings.ToLower(strings.TrimSpace(style))
	if style != "subnet" && style != "class" {
		return loopbackNetworks
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return loopbackNetworks
	}
	out := strings.Fields(loopbackNetworks)
	seen := map[string]bool{out[0]: true, out[1]: true}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		n := formatNet(ipn, style == "class")
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return strings.Join(out, " ")
}

func formatNet(ipn *net.IPNet, class bool) string {
	mask := ipn.Mask
	if v4 := ipn.IP.To4(); v4 != nil {
		if class {
			mask = classMask(v4[0])
		}
		ones, _ := mask.Size()
		return (&net.IPNet{IP: v4.Mask(mask), Mask: mask}).IP.String() + "/" + strconv.Itoa(ones)
	}
	if ipn.IP.IsLinkLocalUnicast() {
		return ""
	}
	ones, _ := mask.Size()
	return "[" + ipn.IP.Mask(mask).String() + "]/" + strconv.Itoa(ones)
}

func classMask(first byte) net.IPMask {
	switch {
	case first < 128:
		return net.CIDRMask(8, 32)
	case first < 192:
		return net.CIDRMask(16, 32)
	default:
		return net.CIDRMask(24, 32)
	}
}
