// Package proxyproto reads the header of HAProxy's PROXY protocol,
// versions 1 (text) and 2 (binary), with which a load balancer in front
// of a server passes on the address of the client it accepted: Postfix's
// smtpd_upstream_proxy_protocol = haproxy. The header is read exactly,
// without reading past it, so that the connection can be handed on.
package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// v2Signature starts a version 2 header.
var v2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// maxV1 is the longest version 1 header, CRLF included.
const maxV1 = 107

// Header is what a PROXY header says. Local (version 1 UNKNOWN, version 2
// LOCAL, or a protocol other than TCP over IPv4 or IPv6) means the
// connection is the proxy's own: the caller keeps the connection's
// addresses.
type Header struct {
	Local  bool
	Source netip.AddrPort // the client
	Dest   netip.AddrPort // the address the client connected to
}

// ErrNotProxy is returned when the connection does not start with a
// PROXY header.
var ErrNotProxy = errors.New("not a PROXY protocol header")

// Read reads one PROXY header from r.
func Read(r io.Reader) (Header, error) {
	start := make([]byte, 6)
	if _, err := io.ReadFull(r, start); err != nil {
		return Header{}, fmt.Errorf("read PROXY header: %w", err)
	}
	switch {
	case string(start) == "PROXY ":
		return readV1(r)
	case bytes.Equal(start, v2Signature[:6]):
		return readV2(r)
	}
	return Header{}, ErrNotProxy
}

// readV1 reads the rest of a version 1 header: "TCP4 src dst sport
// dport\r\n", "TCP6 ...", or "UNKNOWN ...\r\n".
func readV1(r io.Reader) (Header, error) {
	var line []byte
	b := make([]byte, 1)
	for len(line) < maxV1-6 {
		if _, err := io.ReadFull(r, b); err != nil {
			return Header{}, fmt.Errorf("read PROXY header: %w", err)
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			break
		}
	}
	text, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return Header{}, errors.New("PROXY v1 header: no CRLF within 107 bytes")
	}
	f := strings.Split(text, " ")
	if f[0] == "UNKNOWN" {
		return Header{Local: true}, nil
	}
	if len(f) != 5 || (f[0] != "TCP4" && f[0] != "TCP6") {
		return Header{}, fmt.Errorf("PROXY v1 header: bad line %q", text)
	}
	src, err1 := netip.ParseAddr(f[1])
	dst, err2 := netip.ParseAddr(f[2])
	sport, err3 := strconv.ParseUint(f[3], 10, 16)
	dport, err4 := strconv.ParseUint(f[4], 10, 16)
	if err := errors.Join(err1, err2, err3, err4); err != nil || src.Is4() != (f[0] == "TCP4") || dst.Is4() != src.Is4() {
		return Header{}, fmt.Errorf("PROXY v1 header: bad line %q", text)
	}
	return Header{Source: netip.AddrPortFrom(src, uint16(sport)), Dest: netip.AddrPortFrom(dst, uint16(dport))}, nil
}

// readV2 reads the rest of a version 2 header.
func readV2(r io.Reader) (Header, error) {
	rest := make([]byte, 10)
	if _, err := io.ReadFull(r, rest); err != nil {
		return Header{}, fmt.Errorf("read PROXY header: %w", err)
	}
	if !bytes.Equal(rest[:6], v2Signature[6:]) {
		return Header{}, ErrNotProxy
	}
	verCmd, family := rest[6], rest[7]
	if verCmd>>4 != 2 {
		return Header{}, fmt.Errorf("PROXY v2 header: version %d", verCmd>>4)
	}
	n := int(binary.BigEndian.Uint16(rest[8:10]))
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Header{}, fmt.Errorf("read PROXY header: %w", err)
	}
	switch verCmd & 0xf {
	case 0: // LOCAL: the proxy's own connection (health checks)
		return Header{Local: true}, nil
	case 1: // PROXY
	default:
		return Header{}, fmt.Errorf("PROXY v2 header: command %d", verCmd&0xf)
	}
	switch family {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return Header{}, errors.New("PROXY v2 header: short IPv4 address block")
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		dst := netip.AddrFrom4([4]byte(body[4:8]))
		return Header{Source: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10])),
			Dest: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[10:12]))}, nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return Header{}, errors.New("PROXY v2 header: short IPv6 address block")
		}
		src := netip.AddrFrom16([16]byte(body[0:16]))
		dst := netip.AddrFrom16([16]byte(body[16:32]))
		return Header{Source: netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34])),
			Dest: netip.AddrPortFrom(dst, binary.BigEndian.Uint16(body[34:36]))}, nil
	}
	return Header{Local: true}, nil // UDP, unix sockets, unspecified
}
