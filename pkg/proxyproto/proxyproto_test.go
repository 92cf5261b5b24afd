package proxyproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
)

// v2 builds a version 2 header.
func v2(cmd, family byte, body []byte) []byte {
	b := append([]byte{}, v2Signature...)
	b = append(b, 0x20|cmd, family)
	b = binary.BigEndian.AppendUint16(b, uint16(len(body)))
	return append(b, body...)
}

func TestRead(t *testing.T) {
	v4 := append(append([]byte{192, 0, 2, 9, 198, 51, 100, 1}, 0xd4, 0x31), 0, 25)
	v6body := make([]byte, 36)
	copy(v6body, netip.MustParseAddr("2001:db8::9").AsSlice())
	copy(v6body[16:], netip.MustParseAddr("2001:db8::1").AsSlice())
	binary.BigEndian.PutUint16(v6body[32:], 40000)
	binary.BigEndian.PutUint16(v6body[34:], 25)
	tests := []struct {
		name string
		in   []byte
		want Header
		err  bool
	}{
		{"v1 TCP4", []byte("PROXY TCP4 192.0.2.9 198.51.100.1 54321 25\r\nEHLO"),
			Header{Source: netip.MustParseAddrPort("192.0.2.9:54321"), Dest: netip.MustParseAddrPort("198.51.100.1:25")}, false},
		{"v1 TCP6", []byte("PROXY TCP6 2001:db8::9 2001:db8::1 40000 25\r\n"),
			Header{Source: netip.MustParseAddrPort("[2001:db8::9]:40000"), Dest: netip.MustParseAddrPort("[2001:db8::1]:25")}, false},
		{"v1 UNKNOWN", []byte("PROXY UNKNOWN\r\n"), Header{Local: true}, false},
		{"v1 family mismatch", []byte("PROXY TCP4 2001:db8::9 2001:db8::1 1 25\r\n"), Header{}, true},
		{"v1 no CRLF", []byte("PROXY TCP4 " + strings.Repeat("1", 120)), Header{}, true},
		{"v1 bad port", []byte("PROXY TCP4 192.0.2.9 198.51.100.1 99999 25\r\n"), Header{}, true},
		{"v2 TCP4", v2(1, 0x11, v4),
			Header{Source: netip.MustParseAddrPort("192.0.2.9:54321"), Dest: netip.MustParseAddrPort("198.51.100.1:25")}, false},
		{"v2 TCP6", v2(1, 0x21, v6body),
			Header{Source: netip.MustParseAddrPort("[2001:db8::9]:40000"), Dest: netip.MustParseAddrPort("[2001:db8::1]:25")}, false},
		{"v2 LOCAL", v2(0, 0, nil), Header{Local: true}, false},
		{"v2 short", v2(1, 0x11, v4[:6]), Header{}, true},
		{"not a header", []byte("EHLO client.example\r\n"), Header{}, true},
		{"truncated", []byte("PRO"), Header{}, true},
	}
	for _, tt := range tests {
		r := bytes.NewReader(tt.in)
		got, err := Read(r)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("%s: %+v, %v; want %+v, error %v", tt.name, got, err, tt.want, tt.err)
		}
		if tt.name == "v1 TCP4" {
			if rest, _ := io.ReadAll(r); string(rest) != "EHLO" {
				t.Errorf("read past the header: left %q", rest)
			}
		}
	}
	if _, err := Read(strings.NewReader("EHLO x")); !errors.Is(err, ErrNotProxy) {
		t.Errorf("not a header: %v", err)
	}
}

// FuzzRead: any input gives a header or an error, without panic, and a
// header from TCP has addresses of one family.
func FuzzRead(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.9 198.51.100.1 54321 25\r\n"))
	f.Add(v2(1, 0x11, []byte{192, 0, 2, 9, 198, 51, 100, 1, 0xd4, 0x31, 0, 25}))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		h, err := Read(bytes.NewReader(in))
		if err == nil && !h.Local && h.Source.Addr().Is4() != h.Dest.Addr().Is4() {
			t.Fatalf("mixed families: %+v", h)
		}
	})
}
