package message

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// nested returns a message whose body nests depth multiparts.
func nested(depth int) string {
	var b strings.Builder
	b.WriteString("Subject: deep\nMIME-Version: 1.0\n")
	for i := range depth {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b%d\"\n\n--b%d\n", i, i)
	}
	b.WriteString("Content-Type: text/plain\n\ninnermost\n")
	for i := depth - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "--b%d--\n", i)
	}
	return b.String()
}

// TestMIMEChecks: mime_nesting_limit, mime_boundary_length_limit and the
// strict_* MIME checks were unknown names. Cleanup now finds the first
// problem as Postfix's MIME processor names it; the message is copied
// whole all the same.
func TestMIMEChecks(t *testing.T) {
	const plain = "Subject: x\n\n"
	for _, tt := range []struct {
		name   string
		checks MIMEChecks
		in     string
		want   string // problem, "" for none
	}{
		{"nesting past the limit, reported", MIMEChecks{NestingLimit: 3, ReportNesting: true}, nested(5), MIMENesting},
		{"nesting past the limit, not reported", MIMEChecks{NestingLimit: 3, Body8Bit: true}, nested(5), ""},
		{"nesting within the limit", MIMEChecks{NestingLimit: 5, ReportNesting: true, Body8Bit: true}, nested(5), ""},
		{"nesting by the default limit", MIMEChecks{ReportNesting: true, Body8Bit: true}, nested(101), MIMENesting},
		{"8-bit header", MIMEChecks{Header8Bit: true}, "Subject: caf\xc3\xa9\n\nbody\n", MIME8BitHeader},
		{"8-bit header, check off", MIMEChecks{Body8Bit: true}, "Subject: caf\xc3\xa9\n\nbody\n", ""},
		{"8-bit body without encoding", MIMEChecks{Body8Bit: true}, plain + "caf\xc3\xa9\n", MIME8BitBody},
		{"8-bit body, 8bit encoding", MIMEChecks{Body8Bit: true}, "Content-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n", ""},
		{"8-bit part declared 7bit", MIMEChecks{Body8Bit: true},
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Transfer-Encoding: 7bit\n\ncaf\xc3\xa9\n--x--\n", MIME8BitBody},
		{"8-bit part declared 8bit", MIMEChecks{Body8Bit: true},
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n--x--\n", ""},
		{"8-bit part header", MIMEChecks{Header8Bit: true},
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Description: caf\xc3\xa9\n\nbody\n--x--\n", MIME8BitHeader},
		{"base64 multipart", MIMEChecks{EncodingDomain: true},
			"Content-Type: multipart/mixed; boundary=x\nContent-Transfer-Encoding: base64\n\n--x--\n", MIMEEncodingDomain},
		{"quoted-printable attached message", MIMEChecks{EncodingDomain: true},
			"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: message/rfc822\nContent-Transfer-Encoding: quoted-printable\n\nSubject: a\n\nb\n--x--\n", MIMEEncodingDomain},
		{"base64 text", MIMEChecks{EncodingDomain: true}, "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nYQ==\n", ""},
	} {
		opt := localOpts()
		opt.MIME = tt.checks
		var out bytes.Buffer
		res, err := Cleanup(strings.NewReader(tt.in), &out, opt)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got := ""
		if res.MIMEError != nil {
			got = res.MIMEError.Problem
		}
		if got != tt.want {
			t.Errorf("%s: problem %q, want %q", tt.name, got, tt.want)
		}
		_, body, _ := strings.Cut(out.String(), "\n\n")
		if _, inBody, _ := strings.Cut(tt.in, "\n\n"); body != inBody {
			t.Errorf("%s: body changed:\n%q\nwant\n%q", tt.name, body, inBody)
		}
	}
}

// TestMIMEBoundaryLimit: a boundary longer than mime_boundary_length_limit
// is cut, and the lines it starts are its delimiters, as in Postfix.
func TestMIMEBoundaryLimit(t *testing.T) {
	in := "Content-Type: multipart/mixed; boundary=abcdefghijKLM\n\n--abcdefghijXYZ\nX-Part: yes\n\nbody\n"
	for _, tt := range []struct {
		limit int
		part  bool // X-Part is read as a part header
	}{
		{10, true},
		{0, false}, // the default 2048: the boundary is whole and the line is not its delimiter
	} {
		ri := &ruleInspector{body: true, prefix: "X-Part"}
		opt := localOpts()
		opt.Inspector, opt.MIME.BoundaryLimit = ri, tt.limit
		if _, err := Cleanup(strings.NewReader(in), &bytes.Buffer{}, opt); err != nil {
			t.Fatal(err)
		}
		want := []string{"body X-Part: yes"}
		if tt.part {
			want = []string{"nested X-Part: yes"}
		}
		if fmt.Sprint(ri.seen) != fmt.Sprint(want) {
			t.Errorf("limit %d: inspector saw %q, want %q", tt.limit, ri.seen, want)
		}
	}
}

// FuzzMIMEChecksKeepContent: the MIME checks, with tiny limits, only
// report: the output is what Cleanup writes without them.
func FuzzMIMEChecksKeepContent(f *testing.F) {
	for _, s := range []string{mimeMessage, nested(4), "Subject: caf\xc3\xa9\n\n\xff\n", "Content-Type: multipart/x; boundary=abcdef\n\n--abcXYZ\nA: b\n\n--abc--\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		opt := CleanupOptions{QueueID: "Q", MyHostname: "h", Now: testNow}
		var plain bytes.Buffer
		if _, err := Cleanup(strings.NewReader(in), &plain, opt); err != nil {
			t.Fatal(err)
		}
		opt.MIME = MIMEChecks{NestingLimit: 2, BoundaryLimit: 3, Header8Bit: true, Body8Bit: true, EncodingDomain: true, ReportNesting: true}
		var checked bytes.Buffer
		if _, err := Cleanup(strings.NewReader(in), &checked, opt); err != nil {
			t.Fatal(err)
		}
		if checked.String() != plain.String() {
			t.Fatalf("checked output differs:\n%q\nwithout checks:\n%q", checked.String(), plain.String())
		}
	})
}
