package message

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"
)

// ruleInspector records what it is shown and edits by rule: a header or
// line starting with a rule's key gets the rule's edit.
type ruleInspector struct {
	rules  map[string]Edit
	body   bool
	limit  int
	seen   []string
	prefix string // only lines with this prefix are recorded ("" all)
}

func (r *ruleInspector) edit(what, text string) Edit {
	if strings.HasPrefix(text, r.prefix) {
		r.seen = append(r.seen, what+" "+text)
	}
	for k, e := range r.rules {
		if strings.HasPrefix(text, k) {
			return e
		}
	}
	return Edit{}
}

func (r *ruleInspector) Header(c HeaderClass, text string) Edit {
	return r.edit([]string{"primary", "mime", "nested"}[c], text)
}
func (r *ruleInspector) Body(line string) Edit { return r.edit("body", line) }
func (r *ruleInspector) WantBody() bool        { return r.body }
func (r *ruleInspector) BodyLimit() int        { return r.limit }

const mimeMessage = "From: a@example.com\r\n" +
	"Subject: hello\r\n" +
	" world\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"outer\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--outer\r\n" +
	"Content-Type: text/plain\r\n" +
	"X-Part: one\r\n" +
	"\r\n" +
	"first part\r\n" +
	"--outer\r\n" +
	"Content-Type: application/octet-stream;\r\n" +
	"\tname=\"evil.exe\"\r\n" +
	"\r\n" +
	"TVqQAAMAAAAEAAAA\r\n" +
	"--outer\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: attached\r\n" +
	"Content-Type: multipart/alternative; boundary=inner\r\n" +
	"\r\n" +
	"--inner\r\n" +
	"Content-Type: text/html\r\n" +
	"\r\n" +
	"<p>inner</p>\r\n" +
	"--inner--\r\n" +
	"--outer--\r\n" +
	"epilogue\r\n"

func TestInspectorSeesTheMIMEStructure(t *testing.T) {
	in := &ruleInspector{body: true}
	var out bytes.Buffer
	if _, err := Cleanup(strings.NewReader(mimeMessage), &out, CleanupOptions{QueueID: "Q", MyHostname: "h", Inspector: in}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"primary From: a@example.com",
		"primary Subject: hello world",
		"mime MIME-Version: 1.0",
		`mime Content-Type: multipart/mixed; boundary="outer"`,
		"body preamble",
		"mime Content-Type: text/plain",
		"nested X-Part: one",
		"body first part",
		`mime Content-Type: application/octet-stream;	name="evil.exe"`,
		"body TVqQAAMAAAAEAAAA",
		"mime Content-Type: message/rfc822",
		"nested Subject: attached",
		"mime Content-Type: multipart/alternative; boundary=inner",
		"mime Content-Type: text/html",
		"body <p>inner</p>",
		"body epilogue",
	}
	if got := strings.Join(in.seen, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("inspector saw:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestInspectorEdits(t *testing.T) {
	in := &ruleInspector{body: true, rules: map[string]Edit{
		"Subject:":                     {Replace: "Subject: [SPAM] hello"},
		"From:":                        {Prepend: []string{"X-Checked: yes", "not a header"}},
		"X-Part:":                      {Drop: true},
		"first":                        {Replace: "replaced line"},
		"TVqQ":                         {Drop: true},
		"Content-Type: text/html":      {Prepend: []string{"X-Inner: 1"}},
		"MIME-Version":                 {Replace: "broken replacement"},
		"<p>":                          {Prepend: []string{"before"}},
		"Content-Type: message/rfc822": {},
	}}
	var out bytes.Buffer
	if _, err := Cleanup(strings.NewReader(mimeMessage), &out, CleanupOptions{QueueID: "Q", MyHostname: "h", Inspector: in}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"\nX-Checked: yes\nFrom: a@example.com\n", "\nSubject: [SPAM] hello\n", "\nMIME-Version: 1.0\n",
		"\nContent-Type: text/plain\n\nreplaced line\n", "name=\"evil.exe\"\n\n--outer\n",
		"X-Inner: 1\nContent-Type: text/html\n\nbefore\n<p>inner</p>\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, gone := range []string{"X-Part", "TVqQ", "not a header", "broken replacement", "\r"} {
		if strings.Contains(s, gone) {
			t.Errorf("output still has %q:\n%s", gone, s)
		}
	}
}

func TestInspectorBodyLimit(t *testing.T) {
	in := &ruleInspector{body: true, limit: 12, prefix: "line"}
	msg := "Subject: x\n\nline one\nline two\nline three\n"
	if _, err := Cleanup(strings.NewReader(msg), &bytes.Buffer{}, CleanupOptions{QueueID: "Q", MyHostname: "h", Inspector: in}); err != nil {
		t.Fatal(err)
	}
	// "line one\n" is 9 bytes: the second line starts within the limit.
	if got := fmt.Sprint(in.seen); got != "[body line one body line two]" {
		t.Errorf("seen %s", got)
	}
}

func TestInspectorLongLinePassesUnread(t *testing.T) {
	long := strings.Repeat("A", 40000)
	in := &ruleInspector{body: true, rules: map[string]Edit{"A": {Drop: true}}}
	var out bytes.Buffer
	if _, err := Cleanup(strings.NewReader("Subject: x\n\n"+long+"\nAshort\n"), &out, CleanupOptions{QueueID: "Q", MyHostname: "h", Inspector: in}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\n\n"+long+"\n") || strings.Contains(out.String(), "Ashort") {
		t.Errorf("the long line was not kept whole, or the short one not dropped")
	}
}

// FuzzInspectorKeepsContent: an inspector that edits nothing leaves the
// output exactly as Cleanup without one writes it, whatever the input and
// however it is read.
func FuzzInspectorKeepsContent(f *testing.F) {
	for _, s := range []string{mimeMessage, "", "Subject: x\n\nb", "Content-Type: multipart/mixed; boundary=b\n\n--b\nX: y\n z\r\r\n\nbody\r\n--b--\n", "Content-Type: message/rfc822\n\nA: b\nno header\n"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, in string, limit int) {
		opt := CleanupOptions{QueueID: "Q", MyHostname: "h", Now: testNow, HeaderSizeLimit: limit % 4096}
		var plain bytes.Buffer
		if _, err := Cleanup(strings.NewReader(in), &plain, opt); err != nil {
			t.Fatal(err)
		}
		opt.Inspector = &ruleInspector{body: true}
		var inspected bytes.Buffer
		if _, err := Cleanup(iotest.OneByteReader(strings.NewReader(in)), &inspected, opt); err != nil {
			t.Fatal(err)
		}
		if inspected.String() != plain.String() {
			t.Fatalf("inspected output differs:\n%q\nwithout inspector:\n%q", inspected.String(), plain.String())
		}
	})
}
