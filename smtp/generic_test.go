package smtp

import (
	"io"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/rewrite"
)

func genericFor(t *testing.T, table string) *rewrite.Settings {
	t.Helper()
	get := func(name string) string {
		switch name {
		case "smtp_generic_maps":
			return table
		case "myorigin":
			return "host.localdomain"
		case "mydestination":
			return "host.localdomain, localhost"
		case "propagate_unmatched_extensions":
			return "canonical, virtual"
		}
		return ""
	}
	open := func(list string) ([]maps.Map, error) {
		ms, _, err := maps.OpenSpecList(list, maps.Options{})
		return ms, err
	}
	g, err := rewrite.GenericFromConfig(get, open)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return g
}

// TestGenericBody: smtp_generic_maps rewrites the addresses of the header,
// folded lines included, and nothing of the body.
func TestGenericBody(t *testing.T) {
	g := genericFor(t, "inline:{ {joe@host.localdomain=joe@example.net}, {root=admin@example.net} }")
	tests := []struct{ in, want string }{
		{"From: Joe <joe@host.localdomain>\nTo: root@host.localdomain,\n other@remote.example\nSubject: joe@host.localdomain\n\nFrom: joe@host.localdomain\n",
			"From: Joe <joe@example.net>\nTo: admin@example.net,\n other@remote.example\nSubject: joe@host.localdomain\n\nFrom: joe@host.localdomain\n"},
		{"From: joe@host.localdomain\n", "From: joe@example.net\n"}, // no body
		{"From: nobody@remote.example\n\n", "From: nobody@remote.example\n\n"},
		{"", ""},
		{"not a header line\nFrom: joe@host.localdomain\n\nbody\n", "not a header line\nFrom: joe@example.net\n\nbody\n"},
	}
	for _, tt := range tests {
		out, err := io.ReadAll(genericBody(g, strings.NewReader(tt.in)))
		if err != nil || string(out) != tt.want {
			t.Errorf("genericBody(%q) = %q, %v\nwant %q", tt.in, out, err, tt.want)
		}
	}
	long := "X-Long: " + strings.Repeat("a", 8000) + "\nFrom: joe@host.localdomain\n\nbody\n"
	if out, err := io.ReadAll(genericBody(g, strings.NewReader(long))); err != nil || string(out) != long {
		t.Errorf("a header line longer than the buffer: changed or failed (%v)", err)
	}
	broken := genericFor(t, "fail:x")
	if _, err := io.ReadAll(genericBody(broken, strings.NewReader("From: a@b.example\n\nx\n"))); err == nil {
		t.Error("a failing table: the body read without error")
	}
}
