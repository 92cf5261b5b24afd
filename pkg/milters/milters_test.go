package milters

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
)

// testMilter is an in-process milter (the library's own server side)
// that does what the test asks at the end of the message.
type testMilter struct {
	milter.NoOpMilter
	seen *[]string
	eom  func(m milter.Modifier) (*milter.Response, error)
	rcpt func(rcpt string) (*milter.Response, error)
}

func (t *testMilter) Connect(host, family string, port uint16, addr string, m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "connect "+host+" "+addr)
	return milter.RespContinue, nil
}

func (t *testMilter) Helo(name string, m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "helo "+name)
	return milter.RespContinue, nil
}

func (t *testMilter) MailFrom(from, args string, m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "mail "+from)
	return milter.RespContinue, nil
}

func (t *testMilter) RcptTo(rcpt, args string, m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "rcpt "+rcpt)
	if t.rcpt != nil {
		return t.rcpt(rcpt)
	}
	return milter.RespContinue, nil
}

func (t *testMilter) Header(name, value string, m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "header "+name+": "+value)
	return milter.RespContinue, nil
}

func (t *testMilter) BodyChunk(chunk []byte, m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "body "+strings.TrimSpace(string(chunk)))
	return milter.RespContinue, nil
}

func (t *testMilter) EndOfMessage(m milter.Modifier) (*milter.Response, error) {
	*t.seen = append(*t.seen, "eom")
	if t.eom != nil {
		return t.eom(m)
	}
	return milter.RespAccept, nil
}

// startTestMilter serves tm on a loopback port; stopped by t.Cleanup.
func startTestMilter(t *testing.T, tm func() *testMilter) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := milter.NewServer(milter.WithDynamicMilter(func(uint32, milter.OptAction, milter.OptProtocol, milter.DataSize) milter.Milter { return tm() }),
		milter.WithActions(milter.AllClientSupportedActionMasks))
	done := make(chan struct{})
	go func() { _ = srv.Serve(l); close(done) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return "inet:" + l.Addr().String()
}

func testConf(t *testing.T, server string) *Conf {
	t.Helper()
	cfg := parseMain(t, "smtpd_milters = "+server+"\n")
	ms, err := Open(cfg, "smtpd_milters")
	if err != nil || len(ms) != 1 {
		t.Fatalf("Open: %v %v", ms, err)
	}
	return ms[0]
}

// spooled makes a Spool holding content.
func spooled(t *testing.T, content string) *Spool {
	t.Helper()
	sp := &Spool{}
	if _, err := sp.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sp.Close)
	return sp
}

func testMessage(t *testing.T, content string, rcpts ...string) *Message {
	t.Helper()
	sp := spooled(t, content)
	header, offset, err := ParseHeader(sp.Reader(0))
	if err != nil {
		t.Fatal(err)
	}
	msg := &Message{Sender: "alice@example.org", Header: header, Spool: sp, offset: offset}
	for _, r := range rcpts {
		msg.Rcpts = append(msg.Rcpts, envelope.Recipient{Address: r})
	}
	return msg
}

var milterTestClient = Client{Name: "client.example.org", Helo: "helo.example.org", Addr: netip.MustParseAddr("192.0.2.7"), Port: 4000}

func TestMilterSeesTheMessageAndChangesIt(t *testing.T) {
	var seen []string
	addr := startTestMilter(t, func() *testMilter {
		return &testMilter{seen: &seen, eom: func(m milter.Modifier) (*milter.Response, error) {
			_ = m.AddHeader("X-Scanned", "yes")
			_ = m.InsertHeader(0, "DKIM-Signature", "v=1; d=example.org")
			_ = m.ChangeHeader(1, "Subject", "[tagged] hi")
			_ = m.ChangeHeader(1, "X-Drop", "")
			_ = m.AddRecipient("<archive@example.org>", "")
			_ = m.DeleteRecipient("<bob@example.org>")
			_ = m.ChangeFrom("<bounces@example.org>", "")
			return milter.RespContinue, nil
		}}
	})
	m := testConf(t, addr)
	msg := testMessage(t, "Subject: hi\r\nX-Drop: x\r\nTo: bob@example.org,\r\n\tcarol@example.org\r\n\r\nline one\r\n", "bob@example.org", "carol@example.org")
	r, err := m.Run(milterTestClient, msg, milter.NewMacroBag())
	if err != nil || !r.IsZero() {
		t.Fatalf("run: %v %v", r, err)
	}
	got := strings.Join(seen, "\n")
	for _, want := range []string{"connect client.example.org 192.0.2.7", "helo helo.example.org", "mail <alice@example.org>",
		"rcpt <bob@example.org>", "rcpt <carol@example.org>", "header Subject: hi", "header To: bob@example.org,\n\tcarol@example.org", "body line one", "eom"} {
		if !strings.Contains(got, want) {
			t.Errorf("milter did not see %q:\n%s", want, got)
		}
	}
	var out strings.Builder
	if err := msg.Write(&out); err != nil {
		t.Fatal(err)
	}
	want := "DKIM-Signature: v=1; d=example.org\r\nSubject: [tagged] hi\r\nTo: bob@example.org,\r\n\tcarol@example.org\r\nX-Scanned: yes\r\n\r\nline one\r\n"
	if out.String() != want {
		t.Errorf("message:\n%q\nwant\n%q", out.String(), want)
	}
	if msg.Sender != "bounces@example.org" || len(msg.Rcpts) != 2 || msg.Rcpts[0].Address != "carol@example.org" || msg.Rcpts[1].Address != "archive@example.org" {
		t.Errorf("envelope: %s %+v", msg.Sender, msg.Rcpts)
	}
}

func TestMilterRejectsAndReplacesBody(t *testing.T) {
	var seen []string
	addr := startTestMilter(t, func() *testMilter {
		return &testMilter{seen: &seen,
			rcpt: func(rcpt string) (*milter.Response, error) {
				if rcpt == "<spamtrap@example.org>" {
					return milter.RejectWithCodeAndReason(550, "5.7.9 spam trap")
				}
				return milter.RespContinue, nil
			},
			eom: func(m milter.Modifier) (*milter.Response, error) {
				_ = m.ReplaceBody(strings.NewReader("new body\r\n"))
				_ = m.Quarantine("suspicious")
				return milter.RespAccept, nil
			}}
	})
	m := testConf(t, addr)
	msg := testMessage(t, "Subject: hi\r\n\r\nold\r\n", "spamtrap@example.org")
	r, err := m.Run(milterTestClient, msg, milter.NewMacroBag())
	if err != nil || r.String() != "550 5.7.9 spam trap" {
		t.Errorf("reject: %q %v", r.String(), err)
	}
	msg = testMessage(t, "Subject: hi\r\n\r\nold\r\n", "ok@example.org")
	if r, err := m.Run(milterTestClient, msg, milter.NewMacroBag()); err != nil || !r.IsZero() {
		t.Fatalf("run: %v %v", r, err)
	}
	var out strings.Builder
	_ = msg.Write(&out)
	if out.String() != "Subject: hi\r\n\r\nnew body\r\n" || !msg.Hold {
		t.Errorf("replaced body %q, hold %v", out.String(), msg.Hold)
	}
}

func TestMilterConfig(t *testing.T) {
	for spec, want := range map[string]string{
		"inet:127.0.0.1:11332":    "",
		"unix:/run/opendkim/sock": "",
		"{ inet:127.0.0.1:8891, default_action=accept, connect_timeout=5s, protocol=4 }": "",
		"localhost:11332":                    "bad milter server",
		"{ inet:h:1, default_action=maybe }": "default action",
		"{ inet:h:1, colour=red }":           "unknown setting",
		"{ inet:h:1, protocol=9 }":           "protocol 9",
	} {
		_, err := Open(parseMain(t, "smtpd_milters = "+spec+"\n"), "smtpd_milters")
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
	}
}

func TestParseHeader(t *testing.T) {
	fields, off, err := ParseHeader(strings.NewReader("A: 1\r\nB:  two\r\n\tlines\r\n\r\nbody"))
	if err != nil || len(fields) != 2 || fields[1].value != "two\n\tlines" || off != 25 {
		t.Errorf("%+v %d %v", fields, off, err)
	}
	// No blank line: the body starts at the first line that is not a field.
	fields, off, _ = ParseHeader(strings.NewReader("A: 1\r\nnot a header\r\n"))
	if len(fields) != 1 || off != 6 {
		t.Errorf("%+v %d", fields, off)
	}
}

// parseMain parses main.cf lines.
func parseMain(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("main.cf", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestSpoolEndsLinesWithCRLF: a bare LF in the content becomes CRLF in
// the Spool, also across writes; a CRLF split between writes stays one.
func TestSpoolEndsLinesWithCRLF(t *testing.T) {
	sp := &Spool{}
	for _, piece := range []string{"a\nb\r", "\nc\n", "\n", "d\re\r\n"} {
		if _, err := sp.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := io.ReadAll(sp.Reader(0))
	if string(b) != "a\r\nb\r\nc\r\n\r\nd\re\r\n" {
		t.Errorf("Spool holds %q", b)
	}
	// Past SpoolMemory the content moves to a file, unchanged.
	big := strings.Repeat("x", SpoolMemory)
	sp.Write([]byte(big + "\n"))
	b, _ = io.ReadAll(sp.Reader(int64(len("a\r\nb\r\nc\r\n\r\nd\re\r\n"))))
	if string(b) != big+"\r\n" || sp.file == nil {
		t.Errorf("file Spool: %d bytes, file %v", len(b), sp.file != nil)
	}
	sp.Close()
}
