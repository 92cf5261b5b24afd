package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/tern-mta/tern/pkg/sasl"
)

func TestOpen(t *testing.T) {
	tlsGreet := func(exts ...string) []step {
		return script(greet(append([]string{"STARTTLS"}, exts...)...),
			[]step{{expect: "STARTTLS", reply: "220 2.0.0 go ahead", do: "tls"}})
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00bob\x00secret"))
	tests := []struct {
		name    string
		opt     Options
		verify  bool // trust the fake server's certificate
		script  []step
		wantErr string // substring of the error; "" for success
		temp    bool   // the error must be temporary
		stage   string
		tls     bool              // TLS must be up
		exts    map[string]string // extensions that must be announced
		lines   []string          // exact command lines the server must see
	}{
		{
			name:   "plain EHLO with multi-line reply",
			opt:    Options{Helo: "client.example"},
			script: greet("SIZE 10240000", "PIPELINING", "AUTH=LOGIN PLAIN", "8BITMIME", "DSN"),
			exts:   map[string]string{"SIZE": "10240000", "PIPELINING": "", "AUTH": "LOGIN PLAIN", "8BITMIME": "", "DSN": ""},
			lines:  []string{"EHLO client.example"},
		},
		{
			name:    "greeting 4xx",
			opt:     Options{Helo: "c"},
			script:  []step{{reply: "450-4.3.2 busy\n450 4.3.2 try later"}, {expect: "QUIT", reply: "221 bye"}},
			wantErr: "host mx.example.com[192.0.2.1] refused to talk to me: 450-4.3.2 busy 450 4.3.2 try later",
			temp:    true, stage: StageGreeting,
		},
		{
			name:    "greeting 5xx",
			opt:     Options{Helo: "c"},
			script:  []step{{reply: "554 5.7.1 go away"}, {expect: "QUIT", reply: "221 bye"}},
			wantErr: "refused to talk to me: 554 5.7.1 go away", stage: StageGreeting,
		},
		{
			name:    "greeting 421 closes without QUIT",
			opt:     Options{Helo: "c"},
			script:  []step{{reply: "421 4.3.2 shutting down", do: "close"}},
			wantErr: "421 4.3.2 shutting down", temp: true, stage: StageGreeting,
		},
		{
			name: "EHLO 5xx falls back to HELO",
			opt:  Options{Helo: "c.example"},
			script: []step{{reply: "220 old"}, {expect: "EHLO c.example", reply: "502 5.5.2 what?"},
				{expect: "HELO c.example", reply: "250 old"}},
			exts:  map[string]string{},
			lines: []string{"EHLO c.example", "HELO c.example"},
		},
		{
			name:   "smtp_always_send_ehlo = no: HELO when the greeting lacks ESMTP",
			opt:    Options{Helo: "c.example", HeloUnlessESMTP: true},
			script: []step{{reply: "220 old.example Sendmail 8.6"}, {expect: "HELO c.example", reply: "250 old"}},
			exts:   map[string]string{},
			lines:  []string{"HELO c.example"},
		},
		{
			name:   "smtp_never_send_ehlo = yes: HELO even when the greeting says ESMTP",
			opt:    Options{Helo: "c.example", NeverEHLO: true},
			script: []step{{reply: "220 new.example ESMTP"}, {expect: "HELO c.example", reply: "250 new"}},
			exts:   map[string]string{},
			lines:  []string{"HELO c.example"},
		},
		{
			name:   "smtp_always_send_ehlo = no: EHLO when the greeting says ESMTP",
			opt:    Options{Helo: "c.example", HeloUnlessESMTP: true},
			script: greet("PIPELINING"),
			exts:   map[string]string{"PIPELINING": ""},
			lines:  []string{"EHLO c.example"},
		},
		{
			name:    "smtp_always_send_ehlo = no: TLS required but HELO only",
			opt:     Options{Helo: "c", HeloUnlessESMTP: true, TLSLevel: TLSEncrypt},
			script:  []step{{reply: "220 old"}, {expect: "HELO c", reply: "250 old"}, {expect: "QUIT", reply: "221"}},
			wantErr: "TLS is required, but was not offered", temp: true, stage: StageStartTLS,
		},
		{
			name:   "smtp_discard_ehlo_keywords: announced but ignored",
			opt:    Options{Helo: "c", DiscardEHLO: map[string]bool{"PIPELINING": true, "CHUNKING": true}},
			script: greet("PIPELINING", "SIZE 1000", "CHUNKING"),
			exts:   map[string]string{"SIZE": "1000"},
			lines:  []string{"EHLO c"},
		},
		{
			name:    "EHLO 4xx is temporary",
			opt:     Options{Helo: "c"},
			script:  []step{{reply: "220 x"}, {expect: "EHLO", reply: "451 4.3.0 later"}, {expect: "QUIT", reply: "221"}},
			wantErr: "said: 451 4.3.0 later (in reply to EHLO command)", temp: true, stage: StageEHLO,
		},
		{
			name:    "LHLO 5xx has no HELO fallback",
			opt:     Options{Helo: "c", LMTP: true},
			script:  []step{{reply: "220 lmtp"}, {expect: "LHLO c", reply: "500 5.5.1 no"}, {expect: "QUIT", reply: "221"}},
			wantErr: "500 5.5.1 no (in reply to LHLO command)", stage: StageLHLO,
		},
		{
			name:    "TLS required but not offered",
			opt:     Options{Helo: "c", TLSLevel: TLSEncrypt},
			script:  script(greet("PIPELINING"), []step{{expect: "QUIT", reply: "221"}}),
			wantErr: "TLS is required, but was not offered by host mx.example.com[192.0.2.1]",
			temp:    true, stage: StageStartTLS,
		},
		{
			name:   "may without STARTTLS offered stays plain",
			opt:    Options{Helo: "c", TLSLevel: TLSMay},
			script: greet("PIPELINING"),
			lines:  []string{"EHLO c"},
		},
		{
			name: "may with STARTTLS refused stays plain",
			opt:  Options{Helo: "c", TLSLevel: TLSMay},
			script: script(greet("STARTTLS"),
				[]step{{expect: "STARTTLS", reply: "454 4.7.0 TLS not available"}}),
			lines: []string{"EHLO c", "STARTTLS"},
		},
		{
			name:    "encrypt with STARTTLS refused fails",
			opt:     Options{Helo: "c", TLSLevel: TLSEncrypt},
			script:  script(greet("STARTTLS"), []step{{expect: "STARTTLS", reply: "454 4.7.0 TLS not available"}, {expect: "QUIT", reply: "221"}}),
			wantErr: "454 4.7.0 TLS not available (in reply to STARTTLS command)", temp: true, stage: StageStartTLS,
		},
		{
			name:   "may with STARTTLS offered",
			opt:    Options{Helo: "c", TLSLevel: TLSMay},
			script: script(tlsGreet(), []step{{expect: "EHLO c", reply: "250-fake\n250 SIZE 100"}}),
			tls:    true, exts: map[string]string{"SIZE": "100"},
			lines: []string{"EHLO c", "STARTTLS", "EHLO c"},
		},
		{
			name:   "encrypt with STARTTLS offered",
			opt:    Options{Helo: "c", TLSLevel: TLSEncrypt},
			script: script(tlsGreet(), []step{{expect: "EHLO c", reply: "250 fake"}}),
			tls:    true,
		},
		{
			name:   "verify with a trusted certificate",
			opt:    Options{Helo: "c", TLSLevel: TLSVerify},
			verify: true,
			script: script(tlsGreet(), []step{{expect: "EHLO c", reply: "250 fake"}}),
			tls:    true,
		},
		{
			name:    "verify with an untrusted certificate",
			opt:     Options{Helo: "c", TLSLevel: TLSVerify},
			script:  script(greet("STARTTLS"), []step{{expect: "STARTTLS", reply: "220 go ahead", do: "tls-fails"}}),
			wantErr: "TLS handshake with mx.example.com[192.0.2.1] failed", temp: true, stage: StageStartTLS,
		},
		{
			name:    "unknown TLS level",
			opt:     Options{Helo: "c", TLSLevel: "dane-only"},
			script:  nil,
			wantErr: `unsupported TLS security level "dane-only"`, temp: true,
		},
		{
			name: "AUTH PLAIN after TLS",
			opt: Options{Helo: "c", TLSLevel: TLSEncrypt, AuthPolicy: sasl.Policy{Deny: sasl.PropPlaintext},
				Auth: &Auth{User: "bob", Password: "secret"}},
			script: script(tlsGreet(), []step{{expect: "EHLO c", reply: "250-fake\n250 AUTH LOGIN PLAIN"},
				{expect: "AUTH PLAIN " + plain, reply: "235 2.7.0 ok"}}),
			tls:   true,
			lines: []string{"EHLO c", "STARTTLS", "EHLO c", "AUTH PLAIN " + plain},
		},
		{
			name: "AUTH 535 is permanent",
			opt:  Options{Helo: "c", Auth: &Auth{User: "bob", Password: "secret"}},
			script: script(greet("AUTH PLAIN"), []step{
				{expect: "AUTH PLAIN", reply: "535 5.7.8 bad credentials"}, {expect: "QUIT", reply: "221"}}),
			wantErr: "SASL authentication failed; server mx.example.com[192.0.2.1] said: 535 5.7.8 bad credentials",
			stage:   StageAuth,
		},
		{
			name: "AUTH 535 with soft bounce is temporary",
			opt:  Options{Helo: "c", AuthSoftBounce: true, Auth: &Auth{User: "bob", Password: "x"}},
			script: script(greet("AUTH PLAIN"), []step{
				{expect: "AUTH PLAIN", reply: "535 5.7.8 bad credentials"}, {expect: "QUIT", reply: "221"}}),
			wantErr: "535 5.7.8", temp: true, stage: StageAuth,
		},
		{
			name: "AUTH LOGIN when only LOGIN is offered",
			opt:  Options{Helo: "c", Auth: &Auth{User: "bob", Password: "secret"}},
			script: script(greet("AUTH LOGIN"), []step{
				{expect: "AUTH LOGIN", reply: "334 VXNlcm5hbWU6"},
				{expect: base64.StdEncoding.EncodeToString([]byte("bob")), reply: "334 UGFzc3dvcmQ6"},
				{expect: base64.StdEncoding.EncodeToString([]byte("secret")), reply: "235 2.7.0 ok"}}),
		},
		{
			// smtp_sasl_mechanism_filter = login: PLAIN is offered but
			// not used.
			name: "AUTH LOGIN by smtp_sasl_mechanism_filter",
			opt:  Options{Helo: "c", Auth: &Auth{User: "bob", Password: "secret"}, AuthMechanisms: []string{"LOGIN"}},
			script: script(greet("AUTH PLAIN LOGIN"), []step{
				{expect: "AUTH LOGIN", reply: "334 VXNlcm5hbWU6"},
				{expect: base64.StdEncoding.EncodeToString([]byte("bob")), reply: "334 UGFzc3dvcmQ6"},
				{expect: base64.StdEncoding.EncodeToString([]byte("secret")), reply: "235 2.7.0 ok"}}),
		},
		{
			name:    "smtp_sasl_mechanism_filter leaves nothing",
			opt:     Options{Helo: "c", Auth: &Auth{User: "bob", Password: "secret"}, AuthMechanisms: []string{"CRAM-MD5"}},
			script:  script(greet("AUTH PLAIN LOGIN"), []step{{expect: "QUIT", reply: "221"}}),
			wantErr: "no mechanism available", temp: true, stage: StageAuth,
			lines: []string{"EHLO c", "QUIT"},
		},
		{
			name:    "AUTH refused over plain text",
			opt:     Options{Helo: "c", AuthPolicy: sasl.Policy{Deny: sasl.PropPlaintext}, Auth: &Auth{User: "bob", Password: "secret"}},
			script:  script(greet("AUTH PLAIN LOGIN"), []step{{expect: "QUIT", reply: "221"}}),
			wantErr: "no mechanism available", temp: true, stage: StageAuth,
			lines: []string{"EHLO c", "QUIT"},
		},
		{
			name:   "AUTH not offered: go on without",
			opt:    Options{Helo: "c", Auth: &Auth{User: "bob", Password: "secret"}},
			script: greet("PIPELINING"),
			lines:  []string{"EHLO c"},
		},
		{
			name:    "greeting timeout",
			opt:     Options{Helo: "c", Timeouts: Timeouts{Greeting: 100 * time.Millisecond}},
			script:  []step{{do: "hang"}},
			wantErr: "conversation with mx.example.com[192.0.2.1] timed out while receiving the initial server greeting",
			temp:    true, stage: StageGreeting,
		},
		{
			name:    "EHLO timeout",
			opt:     Options{Helo: "c", Timeouts: Timeouts{Helo: 100 * time.Millisecond}},
			script:  []step{{reply: "220 x"}, {expect: "EHLO", do: "hang"}},
			wantErr: "timed out while performing the EHLO handshake", temp: true, stage: StageEHLO,
		},
		{
			name:    "STARTTLS timeout",
			opt:     Options{Helo: "c", TLSLevel: TLSMay, Timeouts: Timeouts{StartTLS: 100 * time.Millisecond}},
			script:  script(greet("STARTTLS"), []step{{expect: "STARTTLS", do: "hang"}}),
			wantErr: "timed out while performing the STARTTLS exchange", temp: true, stage: StageStartTLS,
		},
		{
			name:    "malformed reply",
			opt:     Options{Helo: "c"},
			script:  []step{{reply: "hello there"}},
			wantErr: "sent a bad reply", temp: true, stage: StageGreeting,
		},
		{
			name:    "connection lost during EHLO",
			opt:     Options{Helo: "c"},
			script:  []step{{reply: "220 x"}, {expect: "EHLO", do: "close"}},
			wantErr: "lost connection with mx.example.com[192.0.2.1] while performing the EHLO handshake",
			temp:    true, stage: StageEHLO,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, fs := startFake(t, tc.script)
			opt := tc.opt
			if tc.verify {
				pool := x509.NewCertPool()
				pool.AddCert(fs.cert.Leaf)
				opt.TLSConfig = &tls.Config{RootCAs: pool}
			}
			start := time.Now()
			s, err := Open(testCtx(t), conn, testPeer, opt)
			if time.Since(start) > 3*time.Second {
				t.Errorf("Open took %v", time.Since(start))
			}
			if tc.wantErr != "" {
				checkErr(t, err, tc.wantErr, tc.temp, tc.stage)
				if s != nil {
					t.Error("Open returned a session with an error")
				}
			} else {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if (s.TLS() != nil) != tc.tls {
					t.Errorf("TLS() = %v, want TLS %v", s.TLS(), tc.tls)
				}
				for k, v := range tc.exts {
					if got, ok := s.Extensions()[k]; !ok || got != v {
						t.Errorf("Extensions()[%q] = %q, %v; want %q", k, got, ok, v)
					}
				}
				if tc.exts != nil && len(s.Extensions()) != len(tc.exts) {
					t.Errorf("Extensions() = %v, want %v", s.Extensions(), tc.exts)
				}
				conn.Close()
			}
			fs.wait(t)
			if tc.lines != nil {
				lines, _ := fs.got()
				if strings.Join(lines, "|") != strings.Join(tc.lines, "|") {
					t.Errorf("server saw %q, want %q", lines, tc.lines)
				}
			}
		})
	}
}

// checkErr checks that err is an *Error with the text, class and stage.
func checkErr(t *testing.T, err error, want string, temp bool, stage string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
	if e.Temporary != temp {
		t.Errorf("Temporary = %v, want %v (%v)", e.Temporary, temp, err)
	}
	if stage != "" && e.Stage != stage {
		t.Errorf("Stage = %q, want %q", e.Stage, stage)
	}
	if e.Status == "" && e.Reply == nil {
		t.Errorf("no Status in %#v", e)
	}
}

func TestOpenCancel(t *testing.T) {
	conn, fs := startFake(t, []step{{do: "hang"}})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Open(ctx, conn, testPeer, Options{Helo: "c"})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Open = %v, want a cancellation", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("cancellation took %v", d)
	}
	fs.wait(t)
}

func TestOpenWrapperMode(t *testing.T) {
	conn, fs := startFake(t, script([]step{{do: "tls"}}, greet("PIPELINING")))
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	s, err := Open(testCtx(t), tc, testPeer, Options{Helo: "c", TLSLevel: TLSEncrypt})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if s.TLS() == nil || !s.TLS().HandshakeComplete {
		t.Errorf("TLS() = %v, want a finished handshake", s.TLS())
	}
	if !s.Has("PIPELINING") {
		t.Errorf("extensions %v", s.Extensions())
	}
	if lines, _ := fs.got(); len(lines) != 1 || lines[0] != "EHLO c" {
		t.Errorf("server saw %q, want EHLO only (no STARTTLS)", lines)
	}
	conn.Close()
	fs.wait(t)
}

func TestSendReadError(t *testing.T) {
	conn, fs := startFake(t, script(greet(), []step{{expect: "MAIL", reply: "250 ok"}, {expect: "RCPT", reply: "250 ok"},
		{expect: "DATA", reply: "354 go", do: "hang"}}))
	s, err := Open(testCtx(t), conn, testPeer, Options{Helo: "c"})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	body := io.MultiReader(strings.NewReader("part\n"), iotest.ErrReader(boom))
	res, err := s.Send(testCtx(t), Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: body})
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, boom) || !e.Temporary || e.Stage != StageBody || e.Status != "4.3.0" {
		t.Errorf("Send = %#v, want a temporary body error wrapping %v", err, boom)
	}
	if summary(res) != "0" {
		t.Errorf("results %q, want none answered", summary(res))
	}
	fs.wait(t)
	if all := strings.Join(fs.raw.reads(), ""); strings.Contains(all, "\r\n.\r\n") {
		t.Errorf("server got %q, want no final dot", all)
	}
}
