package smtpd

import (
	"strings"
	"testing"
	"time"
)

// TestXforward: smtpd_authorized_xforward_hosts (set on the amavis
// re-injection service of the usual content filter master.cf) had no
// effect. Its clients are offered XFORWARD; the attributes they forward
// name the original client in the envelope (and so in the Received
// header) and in the client= log line for one transaction; others get
// 550 5.7.0.
func TestXforward(t *testing.T) {
	ts := startServer(t, "smtpd_authorized_xforward_hosts = 127.0.0.0/8")
	c := ts.dial(t)
	if r := c.cmd("EHLO filter.example", "250"); !strings.Contains(r, "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT") {
		t.Fatalf("EHLO lacks XFORWARD:\n%s", r)
	}
	for _, tt := range []struct{ cmd, want string }{
		{"XFORWARD", "501 5.5.4 Syntax: XFORWARD"},
		{"XFORWARD COLOR=red", "501 5.5.4 Error: unknown XFORWARD attribute COLOR"},
		{"XFORWARD NAME=a+20b", "501 5.5.4 Error: bad NAME syntax"},
		{"XFORWARD NAME", "501 5.5.4 Syntax"},
		{"XFORWARD NAME=spike.porcupine.org ADDR=168.100.189.2 PROTO=ESMTP", "250 2.0.0 Ok"},
		{"xforward helo=spike.porcupine.org IDENT=4jgABC SOURCE=REMOTE", "250 2.0.0 Ok"},
		{"MAIL FROM:<wietse@porcupine.org>", "250"},
		{"XFORWARD NAME=other.example", "503 5.5.1 Error: MAIL transaction in progress"},
		{"RCPT TO:<postmaster@mail.example.tst>", "250"},
		{"DATA", "354"},
		{"Subject: filtered\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as"},
		// The attributes lasted one transaction.
		{"MAIL FROM:<second@example.org>", "250"},
		{"RCPT TO:<postmaster@mail.example.tst>", "250"},
		{"DATA", "354"},
		{"Subject: own\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as"},
		// A forwarded local submission: ADDR unavailable.
		{"XFORWARD NAME=ignored.example ADDR=[UNAVAILABLE]", "250 2.0.0 Ok"},
		{"MAIL FROM:<cron@example.org>", "250"},
		{"RCPT TO:<postmaster@mail.example.tst>", "250"},
		{"DATA", "354"},
		{"Subject: local\r\n\r\nbody\r\n.", "250 2.0.0 Ok: queued as"},
	} {
		c.cmd(tt.cmd, tt.want)
	}
	msgs := ts.cleanup.messages()
	if len(msgs) != 3 {
		t.Fatalf("%d messages queued, want 3", len(msgs))
	}
	for i, want := range [][3]string{
		{"spike.porcupine.org", "168.100.189.2", "spike.porcupine.org"},
		{"unknown", "127.0.0.1", "filter.example"},
		{"unknown", "127.0.0.1", "filter.example"},
	} {
		req := msgs[i].req
		if got := [3]string{req.Get("client_name"), req.Get("client_addr"), req.Get("helo")}; got != want {
			t.Errorf("message %d: client %q, want %q", i+1, got, want)
		}
	}
	if p := msgs[0].req.Get("protocol"); p != "ESMTP" {
		t.Errorf("forwarded protocol %q", p)
	}
	// qmgr writes the client= line as smtpd's: the request carries it.
	if got, want := msgs[0].req.Get("log_client"), "client=unknown[127.0.0.1], orig_queue_id=4jgABC, orig_client=spike.porcupine.org[168.100.189.2]"; got != want {
		t.Errorf("forwarded client= line %q, want %q", got, want)
	}
	deadline := time.Now().Add(5 * time.Second)

	c.cmd("QUIT", "221")
	for !strings.Contains(ts.log.String(), "disconnect from unknown[127.0.0.1] ehlo=1 xforward=3/8 mail=3 rcpt=3 data=3 quit=1 commands=14/19") {
		if time.Now().After(deadline) {
			t.Fatalf("no disconnect line with xforward counts:\n%s", ts.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	other := startServer(t, "smtpd_authorized_xforward_hosts = 192.0.2.0/24")
	c = other.dial(t)
	if r := c.cmd("EHLO client.example", "250"); strings.Contains(r, "XFORWARD") {
		t.Errorf("XFORWARD offered to an unauthorized client:\n%s", r)
	}
	c.cmd("XFORWARD ADDR=192.0.2.9", "550 5.7.0 Error: insufficient authorization")
}

// FuzzParseXforward: any XFORWARD argument either fails with a 501 and
// changes nothing, or sets attributes that are printable tokens of at
// most 255 octets.
func FuzzParseXforward(f *testing.F) {
	for _, s := range []string{"NAME=spike.porcupine.org ADDR=168.100.189.2 PROTO=ESMTP", "HELO=a+20b", "ADDR=[unavailable]",
		"IDENT=ABC SOURCE=LOCAL PORT=25", "x", "NAME=", "NAME=+4", "name=ok color=red"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		prev := forwarded{name: "before"}
		got, r := parseXforward(prev, arg)
		if !r.IsZero() {
			if r.Code != 501 || got != prev {
				t.Fatalf("%q: reply %v, attributes %+v", arg, r, got)
			}
			return
		}
		for _, v := range []string{got.name, got.addr, got.port, got.proto, got.helo, got.source, got.ident} {
			if len(v) > xforwardValueMax || !printableToken(v) {
				t.Fatalf("%q: attribute %q", arg, v)
			}
		}
	})
}
