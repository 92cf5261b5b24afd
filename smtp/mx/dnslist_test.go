package mx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

func TestLookupList(t *testing.T) {
	long := strings.Repeat("x", 300)
	srv := mxtest.NewServer(t, `
2.0.0.127.bl.test.   A   127.0.0.2
2.0.0.127.bl.test.   TXT "listed: see https://bl.test/q?2.0.0.127"
4.0.0.127.bl.test.   A   127.0.0.4
4.0.0.127.bl.test.   A   127.0.0.10
5.0.0.127.bl.test.   A   127.0.0.5
5.0.0.127.bl.test.   TXT "first"
5.0.0.127.bl.test.   TXT "second"
6.0.0.127.bl.test.   A   127.0.0.6
6.0.0.127.bl.test.   TXT "`+long+`"
6.0.0.127.bl.test.   TXT "`+long+`"
v6only.bl.test.      AAAA ::1
`)
	srv.SetBehavior("9.0.0.127.bl.test", mxtest.ServFail)
	r := newResolver(srv.Addr())
	tests := []struct {
		name  string
		addrs string
		text  string
		temp  bool
	}{
		{name: "2.0.0.127.bl.test", addrs: "[127.0.0.2]", text: "listed: see https://bl.test/q?2.0.0.127"},
		{name: "4.0.0.127.bl.test", addrs: "[127.0.0.4 127.0.0.10]"},
		{name: "5.0.0.127.BL.test.", addrs: "[127.0.0.5]", text: "first / second"},
		{name: "3.0.0.127.bl.test", addrs: "[]"},
		{name: "v6only.bl.test", addrs: "[]"},
		{name: "bad..name.bl.test", addrs: "[]"},
		{name: "9.0.0.127.bl.test", addrs: "[]", temp: true},
	}
	for _, tt := range tests {
		addrs, text, err := r.LookupList(context.Background(), tt.name)
		if got := fmt.Sprint(addrs); got != tt.addrs || text != tt.text {
			t.Errorf("%s: %s %q, want %s %q", tt.name, got, text, tt.addrs, tt.text)
		}
		if tt.temp != (err != nil) || err != nil && !errors.Is(err, ErrTemporary) {
			t.Errorf("%s: error %v, want temporary %v", tt.name, err, tt.temp)
		}
	}
	_, text, _ := r.LookupList(context.Background(), "6.0.0.127.bl.test")
	if len(text) != maxListText {
		t.Errorf("long TXT text is %d bytes, want %d", len(text), maxListText)
	}
}

func TestLookupNS(t *testing.T) {
	srv := mxtest.NewServer(t, `
example.test.        NS  ns1.example.test.
example.test.        NS  ns2.elsewhere.test.
ns1.example.test.    A   192.0.2.53
ns2.elsewhere.test.  A   198.51.100.53
`)
	r := newResolver(srv.Addr())
	for _, name := range []string{"example.test", "deep.sub.example.test"} {
		hosts, err := r.LookupNS(context.Background(), name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got []string
		for _, h := range hosts {
			got = append(got, fmt.Sprint(h.Name, h.Addrs))
		}
		if s := strings.Join(got, " "); s != "ns1.example.test[192.0.2.53] ns2.elsewhere.test[198.51.100.53]" {
			t.Errorf("%s: %s", name, s)
		}
	}
	if _, err := r.LookupNS(context.Background(), "nowhere.invalid"); !errors.Is(err, ErrNotFound) {
		t.Errorf("no name servers: error %v, want not found", err)
	}
}
