package smtp

import (
	"io"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
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
	a := &Agent{set: settings{generic: g}}
	tests := []struct{ in, want string }{
		{"From: Joe <joe@host.localdomain>\nTo: root@host.localdomain,\n other@remote.example\nSubject: joe@host.localdomain\n\nFrom: joe@host.localdomain\n",
			"From: Joe <joe@example.net>\nTo: admin@example.net, other@remote.example\nSubject: joe@host.localdomain\n\nFrom: joe@host.localdomain\n"},
		{"From: joe@host.localdomain\n", "From: joe@example.net\n\n"}, // no body
		{"From: nobody@remote.example\n\n", "From: nobody@remote.example\n\n"},
		{"X-Long: " + strings.Repeat("a", 8000) + "\nFrom: joe@host.localdomain\n\nbody\n",
			"X-Long: " + strings.Repeat("a", 8000) + "\nFrom: joe@example.net\n\nbody\n"},
	}
	for _, tt := range tests {
		body := a.outgoing("4QueueId1", strings.NewReader(tt.in))
		out, err := io.ReadAll(body)
		closeBody(body)
		if err != nil || string(out) != tt.want {
			t.Errorf("outgoing(%q) = %q, %v\nwant %q", tt.in, out, err, tt.want)
		}
	}
	broken := &Agent{set: settings{generic: genericFor(t, "fail:x")}}
	if _, err := io.ReadAll(broken.outgoing("4QueueId1", strings.NewReader("From: a@b.example\n\nx\n"))); err == nil {
		t.Error("a failing table: the body read without error")
	}
	plain := strings.NewReader("x")
	if (&Agent{}).outgoing("4QueueId1", plain) != plain {
		t.Error("without generic maps or checks the body is not passed as it is")
	}
}

// TestSMTPChecks: smtp_header_checks and smtp_body_checks were unknown
// parameters. The actions for mail on its way apply; the others are
// logged and change nothing.
func TestSMTPChecks(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader(
		"smtp_header_checks = inline:{ {x-internal: yes=IGNORE}, {subject: hello=REPLACE Subject: [ext] hello}, "+
			"{x-secret: 1=STRIP private}, {x-keep: 1=REJECT no}, {x-tag: 1=PREPEND X-Seen: yes} }\n"+
			"smtp_body_checks = inline:{ {password=REPLACE [redacted]} }\n"))
	if err != nil {
		t.Fatal(err)
	}
	checks, err := openSMTPChecks(cfg, maps.Options{})
	if err != nil || checks == nil {
		t.Fatalf("openSMTPChecks = %v, %v", checks, err)
	}
	var log strings.Builder
	a := &Agent{set: settings{checks: checks}, log: maillog.NewWriter(&log, "tern/smtp")}
	in := "X-Internal: yes\nSubject: hello\nX-Secret: 1\nX-Keep: 1\nX-Tag: 1\n\nline one\npassword\n"
	want := "Subject: [ext] hello\nX-Keep: 1\nX-Seen: yes\nX-Tag: 1\n\nline one\n[redacted]\n"
	body := a.outgoing("4QueueId1", strings.NewReader(in))
	out, err := io.ReadAll(body)
	closeBody(body)
	if err != nil || string(out) != want {
		t.Errorf("outgoing = %q, %v\nwant %q", out, err, want)
	}
	for _, line := range []string{"4QueueId1: strip: header X-Secret: 1: private",
		"4QueueId1: smtp_header_checks: action REJECT is not supported while delivering mail: header \"X-Keep: 1\" kept"} {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
	if none, err := openSMTPChecks(&config.Config{}, maps.Options{}); none != nil || err != nil {
		t.Errorf("without tables: %v, %v", none, err)
	}
}
