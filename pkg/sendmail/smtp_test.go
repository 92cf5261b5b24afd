package sendmail

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

// session runs a -bs session over input with the given sink opener and
// returns the reply lines.
func session(input string, open func(ipc.Record) (*sink, error), limit int64) []string {
	var out bytes.Buffer
	s := &smtpSession{
		host:  "mx.example",
		limit: limit,
		br:    bufio.NewReaderSize(strings.NewReader(input), inputBufferSize),
		bw:    bufio.NewWriter(&out),
		open:  open,
	}
	_ = s.run()
	return strings.Split(strings.TrimSuffix(out.String(), "\r\n"), "\r\n")
}

func TestSMTPReplies(t *testing.T) {
	tests := []struct {
		name  string
		input string
		open  func(ipc.Record) (*sink, error)
		limit int64
		want  []string
	}{
		{
			name:  "EHLO",
			input: "EHLO client\r\nQUIT\r\n",
			limit: 1000,
			want: []string{"220 mx.example ESMTP tern", "250-mx.example", "250-PIPELINING", "250-SIZE 1000",
				"250-8BITMIME", "250-SMTPUTF8", "250 ENHANCEDSTATUSCODES", "221 2.0.0 Bye"},
		},
		{
			name:  "HELO and a message",
			input: "HELO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
			want: []string{"220 mx.example ESMTP tern", "250 mx.example", "250 2.1.0 Ok", "250 2.1.5 Ok",
				"354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as FUZZID", "221 2.0.0 Bye"},
		},
		{
			name:  "sequence errors",
			input: "RCPT TO:<x>\r\nDATA\r\nMAIL FROM:<a>\r\nMAIL FROM:<a>\r\nDATA\r\nRSET\r\nNOOP\r\n",
			want: []string{"220 mx.example ESMTP tern", "503 5.5.1 Error: need MAIL command",
				"503 5.5.1 Error: need RCPT command", "250 2.1.0 Ok", "503 5.5.1 Error: nested MAIL command",
				"554 5.5.1 Error: no valid recipients", "250 2.0.0 Ok", "250 2.0.0 Ok"},
		},
		{
			name:  "syntax errors",
			input: "EHLO\r\nHELO\r\nMAIL TO:<a>\r\nMAIL FROM:<a\r\nMAIL FROM:<a> FOO=1\r\nMAIL FROM:<a> SIZE=x\r\nMAIL FROM:<a> BODY=9\r\nbogus\r\n\r\nVRFY x\r\nMAIL FROM:<>\r\nRCPT TO:<>\r\nRCPT x\r\nRCPT TO:<b> NOTIFY=NEVER\r\nDATA x\r\n",
			want: []string{"220 mx.example ESMTP tern", "501 5.5.4 Syntax: EHLO hostname", "501 5.5.4 Syntax: HELO hostname",
				"501 5.5.4 Syntax: MAIL FROM:<address>", "501 5.5.4 Syntax: MAIL FROM:<address>",
				"555 5.5.4 Unsupported option: FOO", "501 5.5.4 Bad message size syntax",
				"501 5.5.4 Unsupported BODY parameter value", "502 5.5.2 Error: command not recognized",
				"500 5.5.2 Error: bad syntax", "502 5.5.1 VRFY command is disabled", "250 2.1.0 Ok",
				"501 5.1.3 Bad recipient address syntax", "501 5.5.4 Syntax: RCPT TO:<address>",
				"555 5.5.4 Unsupported option: NOTIFY", "501 5.5.4 Syntax: DATA"},
		},
		{
			name:  "size limit",
			input: "MAIL FROM:<a> SIZE=5000\r\nMAIL FROM:<a> SIZE=10 BODY=8BITMIME\r\nRCPT TO:<b>\r\nDATA\r\n0123456789\r\n..\r\n.\r\nQUIT\r\n",
			limit: 10,
			want: []string{"220 mx.example ESMTP tern", "552 5.3.4 Message size exceeds fixed limit", "250 2.1.0 Ok",
				"250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "552 5.3.4 Error: message file too big", "221 2.0.0 Bye"},
		},
		{
			name:  "queue unavailable",
			input: "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\nhi\r\n.\r\nQUIT\r\n",
			open:  failOpen,
			want: []string{"220 mx.example ESMTP tern", "250 2.1.0 Ok", "250 2.1.5 Ok",
				"354 End data with <CR><LF>.<CR><LF>", "451 4.3.0 Error: cannot submit mail: down", "221 2.0.0 Bye"},
		},
		{
			name:  "end of input in DATA",
			input: "MAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\npartial\r\n",
			want:  []string{"220 mx.example ESMTP tern", "250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>"},
		},
		{
			name:  "line too long",
			input: "NOOP " + strings.Repeat("x", 3000) + "\r\nNOOP\r\n",
			want:  []string{"220 mx.example ESMTP tern", "500 5.5.0 Error: line too long", "250 2.0.0 Ok"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := tt.open
			if open == nil {
				open = discardOpen
			}
			got := session(tt.input, open, tt.limit)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("replies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSMTPErrorLimit(t *testing.T) {
	got := session(strings.Repeat("bogus\r\n", 30), discardOpen, 0)
	if len(got) != 1+smtpErrorLimit+1 || got[len(got)-1] != "421 4.7.0 mx.example Error: too many errors" {
		t.Errorf("%d replies, last %q", len(got), got[len(got)-1])
	}
}

func TestSMTPReplyFor(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&submitError{code: ExTempFail, text: "disk full"}, "451 4.3.0 Error: disk full"},
		{&submitError{code: ExTempFail, dsn: "4.3.5", text: "later"}, "451 4.3.5 Error: later"},
		{&submitError{code: ExNoPerm, dsn: "5.7.1", text: "no"}, "554 5.7.1 Error: no"},
		{&submitError{code: ExDataErr, text: "bad"}, "554 5.3.0 Error: bad"},
		{&submitError{code: ExUnavailable, text: errTooBig}, "552 5.3.4 Error: message file too big"},
		{io.EOF, "451 4.3.0 Error: queue file write error"},
	}
	for _, tt := range tests {
		if got := smtpReplyFor(tt.err); got != tt.want {
			t.Errorf("smtpReplyFor(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestSMTPThroughPipes drives "sendmail -bs" like a client: EHLO, then a
// pipelined MAIL/RCPT/DATA group, against a fake pickup service.
func TestSMTPThroughPipes(t *testing.T) {
	env := testEnv(t)
	p := startPickup(t, env, okReply)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	env.Stdin, env.Stdout = inR, outW
	var stderr bytes.Buffer
	env.Stderr = &stderr
	done := make(chan int, 1)
	go func() {
		code := Main("sendmail", []string{"-bs"}, env)
		outW.Close()
		done <- code
	}()
	// Replies arrive on a channel so that a wrong session fails the test
	// after a bounded wait instead of hanging it.
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		replies := bufio.NewReader(outR)
		for n := 0; n < 1000; n++ {
			line, err := replies.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	t.Cleanup(func() {
		inW.Close()
		outR.Close()
	})
	expect := func(want ...string) {
		t.Helper()
		for _, w := range want {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("session ended, want %q", w)
				}
				if line != w+"\r\n" {
					t.Fatalf("reply %q, want %q", line, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no reply, want %q", w)
			}
		}
	}
	send := func(s string) {
		t.Helper()
		go func() { _, _ = io.WriteString(inW, s) }()
	}
	expect("220 mx.example ESMTP tern")
	send("EHLO client.example\r\n")
	expect("250-mx.example", "250-PIPELINING", "250-SIZE", "250-8BITMIME", "250-SMTPUTF8", "250 ENHANCEDSTATUSCODES")
	send("MAIL FROM:<sender@example.com> BODY=8BITMIME\r\nRCPT TO:<r1@example.org>\r\nrcpt to: <r2@example.org>\r\nDATA\r\n")
	expect("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>")
	send("Subject: t\r\n\r\n..leading dot\r\n.\r\n")
	expect("250 2.0.0 Ok: queued as 4ABCDEF")
	send("MAIL FROM:<>\r\nRCPT TO:<r3@example.org>\r\nDATA\r\nbounce\r\n.\r\nQUIT\r\n")
	expect("250 2.1.0 Ok", "250 2.1.5 Ok", "354 End data with <CR><LF>.<CR><LF>", "250 2.0.0 Ok: queued as 4ABCDEF", "221 2.0.0 Bye")
	inW.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session did not end")
	}
	subs := p.submissions(t, 2)
	if len(subs) != 2 {
		t.Fatalf("%d submissions", len(subs))
	}
	want := []struct{ req, body string }{
		{"request=submit\nsender=sender@example.com\nrcpt=r1@example.org\nrcpt=r2@example.org\n", "Subject: t\n\n.leading dot\n"},
		{"request=submit\nsender=\nrcpt=r3@example.org\n", "bounce\n"},
	}
	for i, w := range want {
		if got := recordString(subs[i].req); got != w.req || subs[i].body != w.body {
			t.Errorf("submission %d: %q %q, want %q %q", i, got, subs[i].body, w.req, w.body)
		}
	}
}

func FuzzBsSession(f *testing.F) {
	seeds := []string{
		"EHLO x\r\nMAIL FROM:<a@b> SIZE=10\r\nRCPT TO:<c@d>\r\nDATA\r\n..x\r\n.\r\nQUIT\r\n",
		"HELO\r\nMAIL FROM:a\r\nRCPT TO:\r\nDATA\r\n",
		"MAIL FROM:<@r:a@b>\r\nRCPT TO:<x>\r\nDATA\r\n" + strings.Repeat("y", 5000) + "\r\n.\r\n",
		"\r\n\n\r\x00",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		for _, line := range session(input, discardOpen, 100) {
			if len(line) < 4 || line[0] < '2' || line[0] > '5' || (line[3] != ' ' && line[3] != '-') {
				t.Fatalf("bad reply line %q", line)
			}
		}
	})
}

// TestSMTPUTF8InBsSession: sendmail -bs (Alpine's default way to send)
// refused MAIL's SMTPUTF8 parameter as an unsupported option. It is
// now announced and accepted, and the request goes to the queue with
// the message.
func TestSMTPUTF8InBsSession(t *testing.T) {
	var reqs []ipc.Record
	open := func(r ipc.Record) (*sink, error) {
		reqs = append(reqs, r)
		return discardOpen(r)
	}
	got := session("EHLO c\r\nMAIL FROM:<j\xc3\xb6rg@example.com> SMTPUTF8\r\nRCPT TO:<a@b>\r\nDATA\r\nhi\r\n.\r\n"+
		"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nhi\r\n.\r\nMAIL FROM:<a@b> SMTPUTF8=x\r\nQUIT\r\n", open, 0)
	if last := got[len(got)-2]; last != "501 5.5.4 Syntax: SMTPUTF8 takes no value" {
		t.Errorf("SMTPUTF8=x answered %q", last)
	}
	if len(reqs) != 2 {
		t.Fatalf("%d messages submitted, want 2:\n%q", len(reqs), got)
	}
	if reqs[0].Get(AttrSMTPUTF8) != "1" || reqs[1].Has(AttrSMTPUTF8) {
		t.Errorf("smtputf8 attributes %q and %q, want 1 and none", reqs[0].Get(AttrSMTPUTF8), reqs[1].Get(AttrSMTPUTF8))
	}
}
