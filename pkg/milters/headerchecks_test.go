package milters

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/maps"
)

// TestMilterHeaderChecks: milter_header_checks was unknown. Its tables
// see only the header fields milters added or changed (a spam milter's
// verdict), never the client's own, and take Postfix's four actions;
// others are warned about and ignored.
func TestMilterHeaderChecks(t *testing.T) {
	table := filepath.Join(t.TempDir(), "milter_header_checks")
	if err := os.WriteFile(table, []byte(`/^X-Spam-Flag: YES/ HOLD spam verdict
/^X-Virus: found/ DISCARD virus
/^X-Route: archive/ REDIRECT archive@example.org
/^X-Route: scan/ FILTER scan:[127.0.0.1]:10025
/^X-Route: reject/ REJECT not here
/^Subject: \[tagged\]/ DUNNO
`), 0o644); err != nil {
		t.Fatal(err)
	}
	hc, err := OpenHeaderChecks("regexp:"+table, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Close()
	for _, tt := range []struct {
		name     string
		mods     []milter.ModifyAction
		check    func(*Message) bool
		applied  string
		warnings string
	}{
		{"client's own header is not checked", nil,
			func(m *Message) bool { return !m.Hold }, "", ""},
		{"added verdict holds", []milter.ModifyAction{{Type: milter.ActionAddHeader, HeaderName: "X-Spam-Flag", HeaderValue: "YES"}},
			func(m *Message) bool { return m.Hold }, "hold X-Spam-Flag: YES spam verdict", ""},
		{"changed header counts", []milter.ModifyAction{{Type: milter.ActionChangeHeader, HeaderName: "X-Spam-Flag", HeaderIndex: 1, HeaderValue: " YES"}},
			func(m *Message) bool { return m.Hold }, "hold X-Spam-Flag: YES spam verdict", ""},
		{"discard", []milter.ModifyAction{{Type: milter.ActionInsertHeader, HeaderName: "X-Virus", HeaderValue: "found"}},
			func(m *Message) bool { return m.Discard }, "discard X-Virus: found virus", ""},
		{"redirect and filter", []milter.ModifyAction{{Type: milter.ActionAddHeader, HeaderName: "X-Route", HeaderValue: "archive"},
			{Type: milter.ActionAddHeader, HeaderName: "X-Route", HeaderValue: "scan"}},
			func(m *Message) bool {
				return m.Redirect == "archive@example.org" && m.Filter == "scan:[127.0.0.1]:10025"
			},
			"redirect X-Route: archive archive@example.org|filter X-Route: scan scan:[127.0.0.1]:10025", ""},
		{"unsupported action", []milter.ModifyAction{{Type: milter.ActionAddHeader, HeaderName: "X-Route", HeaderValue: "reject"}},
			func(m *Message) bool { return !m.Discard && !m.Hold }, "", `action "REJECT" for "X-Route: reject" is not supported there`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			msg := testMessage(t, "X-Spam-Flag: YES\r\nSubject: hi\r\n\r\nbody\r\n", "bob@example.org")
			if tt.name != "client's own header is not checked" {
				msg.Header[0].value = "NO" // the client's claim, which a milter may overrule
			}
			applyModifications(msg, tt.mods)
			var warnings []string
			var applied []string
			for _, a := range hc.Check(msg, func(f string, args ...any) { warnings = append(warnings, fmt.Sprintf(f, args...)) }) {
				applied = append(applied, a.Action+" "+a.Header+" "+a.Text)
			}
			if !tt.check(msg) {
				t.Errorf("message after the checks: %+v", msg)
			}
			if got := strings.Join(applied, "|"); got != tt.applied {
				t.Errorf("applied %q, want %q", got, tt.applied)
			}
			if got := strings.Join(warnings, "|"); tt.warnings == "" && got != "" || !strings.Contains(got, tt.warnings) {
				t.Errorf("warnings %q, want %q", got, tt.warnings)
			}
		})
	}
	if none, err := OpenHeaderChecks("", maps.Options{}); err != nil || none != nil || none.Check(&Message{}, nil) != nil {
		t.Errorf("an empty milter_header_checks: %v, %v", none, err)
	}
}
