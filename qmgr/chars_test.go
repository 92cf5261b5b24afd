package qmgr

import (
	"io"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/ipc"
)

func TestParseCharSet(t *testing.T) {
	set, err := parseCharSet("p", `\0\t\\\101x`)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []byte{0, '\t', '\\', 'A', 'x'} {
		if !set[c] {
			t.Errorf("%q not in the set", c)
		}
	}
	if set['y'] || set['0'] {
		t.Error("extra characters in the set")
	}
	for _, bad := range []string{`\`, `\q`, `\777`} {
		if _, err := parseCharSet("p", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if s, err := parseCharSet("p", ""); s != nil || err != nil {
		t.Errorf("empty: %v %v", s, err)
	}
}

func TestCharFilter(t *testing.T) {
	strip, _ := parseCharSet("s", `\r`)
	reject, _ := parseCharSet("r", `\0`)
	f := &charFilter{r: strings.NewReader("a\r\nb\x00c"), strip: strip, reject: reject}
	b, err := io.ReadAll(f)
	if err != nil || string(b) != "a\nb\x00c" || !f.rejected {
		t.Errorf("got %q %v, rejected %v", b, err, f.rejected)
	}
}

// TestMessageRejectCharacters: message_reject_characters and
// message_strip_characters were warned about as having no effect. A
// message with a listed character is refused with 550 5.6.0; stripped
// characters are gone from what is queued.
func TestMessageRejectCharacters(t *testing.T) {
	h := newMTA(t, "message_reject_characters = \\0\nmessage_strip_characters = \\f\n", nil)
	req := append(ipc.Record{{Name: "request", Value: "submit"}}, rcpts("joe@example.com")...)
	reply, c := h.call("pickup", req, []byte("Subject: nul\n\nbad\x00byte\n"))
	c.Close()
	if reply.Get("status") == "ok" || reply.Get("dsn") != "5.6.0" {
		t.Errorf("a message with NUL: %v", reply)
	}
	h.submit(rcpts("joe@example.com"), "Subject: ff\n\npage\fbreak\n")
	r := h.waitRequests(1)[0]
	if strings.Contains(r.body, "\f") || !strings.Contains(r.body, "pagebreak") {
		t.Errorf("the form feed was not stripped: %q", r.body)
	}
}
