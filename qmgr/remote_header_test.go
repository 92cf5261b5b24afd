package qmgr

import (
	"strings"
	"testing"
)

// TestRemoteHeaderRewriteDomain: remote_header_rewrite_domain was warned
// about as having no effect. With it, the headers of mail from a remote
// client are rewritten too: an address without a domain gets it, and the
// canonical maps apply; without it they are left alone.
func TestRemoteHeaderRewriteDomain(t *testing.T) {
	for _, tt := range []struct {
		extra, want string
	}{
		{"remote_header_rewrite_domain = domain.invalid\ncanonical_maps = inline:{ carol@domain.invalid=carol.public@example.com }\n",
			"To: joe@domain.invalid, carol.public@example.com, dan@remote.org\n"},
		{"canonical_maps = inline:{ carol@domain.invalid=carol.public@example.com }\n", "To: joe, carol, dan@remote.org\n"},
	} {
		h := newMTA(t, tt.extra, nil)
		if r := h.cleanupSubmit("To: joe, carol, dan@remote.org\nSubject: remote\n\nbody\n"); r["status"] != "ok" {
			t.Fatalf("submit: %v", r)
		}
		body := h.waitRequests(1)[0].body
		if !strings.Contains(body, tt.want) {
			t.Errorf("%q: headers\n%s\nwant %q", tt.extra, body, tt.want)
		}
	}
}
