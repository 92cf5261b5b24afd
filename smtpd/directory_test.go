package smtpd

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

func newTestDirectory(t *testing.T, mainCF string) *directory {
	t.Helper()
	base := "mydestination = example.com\nlocal_recipient_maps = inline:{ joe=1 }\nrecipient_delimiter = +\n"
	cfg, err := config.Parse("main.cf", strings.NewReader(base+mainCF))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDirectory(cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.close)
	return d
}

func TestDirectoryKnown(t *testing.T) {
	d := newTestDirectory(t, `virtual_alias_domains = alias.example
virtual_alias_maps = inline:{ {info@alias.example=joe}, {@catch.example=joe}, {sales=joe}, {canon@vbox.example=joe} }
virtual_mailbox_domains = inline:{ vbox.example=1, catch.example=1 }
virtual_mailbox_maps = inline:{ {box@vbox.example=vbox.example/box/} }
relay_domains = relayed.example, open.example
relay_recipient_maps = inline:{ {r@relayed.example=ok}, {@open.example=ok} }
canonical_maps = inline:{ {old@example.com=joe@example.com} }
`)
	tests := []struct {
		addr string
		want bool
	}{
		{"joe@example.com", true},
		{"joe+tag@example.com", true},
		{"nosuchuser@example.com", false},
		{"sales@example.com", true}, // bare user alias key in a local domain
		{"old@example.com", true},   // canonical_maps
		{"info@alias.example", true},
		{"sales@alias.example", false}, // bare user keys are for local domains only
		{"other@alias.example", false},
		{"box@vbox.example", true},
		{"box+x@vbox.example", true},
		{"canon@vbox.example", true},
		{"nobox@vbox.example", false},
		{"anyone@catch.example", true},
		{"r@relayed.example", true},
		{"x@relayed.example", false},
		{"x@open.example", true},
		{"x@remote.example", true},
	}
	for _, tt := range tests {
		got, err := d.known(context.Background(), tt.addr)
		if err != nil {
			t.Errorf("known(%q): %v", tt.addr, err)
		} else if got != tt.want {
			t.Errorf("known(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestDirectoryRelayWithoutRecipientMaps(t *testing.T) {
	d := newTestDirectory(t, "relay_domains = relayed.example\n")
	if ok, err := d.known(context.Background(), "any@relayed.example"); err != nil || !ok {
		t.Fatalf("known = %v, %v; empty relay_recipient_maps must accept any address", ok, err)
	}
}

func TestDirectoryRelocated(t *testing.T) {
	d := newTestDirectory(t, "relocated_maps = inline:{ {old@example.com=new@example.net}, {gone=gone@new.example}, {@moved.example=see moved.example.net} }\n")
	tests := []struct{ addr, want string }{
		{"old@example.com", "new@example.net"},
		{"old+x@example.com", "new@example.net"},
		{"gone@example.com", "gone@new.example"},
		{"gone@remote.example", ""},
		{"a@moved.example", "see moved.example.net"},
		{"joe@example.com", ""},
	}
	for _, tt := range tests {
		got, found, err := d.relocated(context.Background(), tt.addr)
		if err != nil || found != (tt.want != "") || got != tt.want {
			t.Errorf("relocated(%q) = %q, %v, %v; want %q", tt.addr, got, found, err, tt.want)
		}
	}
}

func TestDirectoryLookupErrors(t *testing.T) {
	for _, line := range []string{"virtual_alias_maps = fail:x", "virtual_mailbox_domains = fail:x", "mydestination = fail:x"} {
		d := newTestDirectory(t, line+"\n")
		if _, err := d.known(context.Background(), "a@somewhere.example"); err == nil {
			t.Errorf("%s: known returned no error", line)
		}
	}
}
