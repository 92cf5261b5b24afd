package client

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// rcpts makes recipients without DSN parameters.
func rcpts(addrs ...string) []Recipient {
	var r []Recipient
	for _, a := range addrs {
		r = append(r, Recipient{Addr: a})
	}
	return r
}

// summary renders results as "code stage" per recipient.
func summary(res []RcptResult) string {
	var parts []string
	for _, r := range res {
		parts = append(parts, strings.TrimSpace(fmt.Sprintf("%d %s", r.Reply.Code, r.Stage)))
	}
	return strings.Join(parts, ", ")
}

func TestSend(t *testing.T) {
	ok := func(cmd, reply string) step { return step{expect: cmd, reply: reply} }
	data := step{expect: "DATA", reply: "354 go ahead"}
	dot := step{do: "body", reply: "250 2.0.0 Ok: queued as ABC"}
	tests := []struct {
		name    string
		exts    []string
		opt     Options
		msg     Message
		steps   []step // after EHLO
		want    string // summary of the results
		texts   []string
		wantErr string
		temp    bool
		lines   []string // command lines after EHLO, all of them
		body    string   // the content the server must get
		batch   int      // >0: the chunk with MAIL FROM must hold this many commands
	}{
		{
			name: "pipelined partial acceptance",
			exts: []string{"PIPELINING"},
			msg:  Message{Sender: "s@example.org", Recipients: rcpts("a@x", "b@x", "c@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL FROM:<s@example.org>", "250 2.1.0 Ok"), ok("RCPT TO:<a@x>", "250 2.1.5 Ok"),
				ok("RCPT TO:<b@x>", "550-5.1.1 <b@x>: Recipient address rejected:\n550 5.1.1 User unknown"),
				ok("RCPT TO:<c@x>", "250 2.1.5 Ok"), data, dot},
			want: "250 end of DATA, 550 RCPT TO, 250 end of DATA",
			texts: []string{"250 2.0.0 Ok: queued as ABC",
				"550-5.1.1 <b@x>: Recipient address rejected: 550 5.1.1 User unknown", "250 2.0.0 Ok: queued as ABC"},
			body:  "hi\r\n.\r\n",
			batch: 5,
		},
		{
			name: "probe: MAIL and RCPT, then RSET, no DATA",
			exts: []string{"PIPELINING"},
			msg:  Message{Sender: "double-bounce@x", Recipients: rcpts("a@x", "b@x"), Probe: true, Body: strings.NewReader("unused\n")},
			steps: []step{ok("MAIL FROM:<double-bounce@x>", "250 2.1.0 Ok"), ok("RCPT TO:<a@x>", "250 2.1.5 Ok"),
				ok("RCPT TO:<b@x>", "550 5.1.1 no such user"), ok("RSET", "250 2.0.0 Ok")},
			want:  "250 RCPT TO, 550 RCPT TO",
			lines: []string{"MAIL FROM:<double-bounce@x>", "RCPT TO:<a@x>", "RCPT TO:<b@x>", "RSET"},
		},
		{
			name: "XFORWARD before MAIL, announced attributes only",
			exts: []string{"PIPELINING", "XFORWARD NAME ADDR PROTO HELO SOURCE"},
			msg: Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n"),
				XForward: map[string]string{"NAME": "spike.example", "ADDR": "192.0.2.1", "PROTO": "ESMTP",
					"HELO": "odd helo", "IDENT": "ABC", "SOURCE": "REMOTE", "PORT": ""}},
			steps: []step{ok("XFORWARD NAME=spike.example ADDR=192.0.2.1 PROTO=ESMTP HELO=odd+20helo SOURCE=REMOTE", "250 2.0.0 Ok"),
				ok("MAIL FROM:<s@x>", "250 Ok"), ok("RCPT TO:<a@x>", "250 Ok"), data, dot},
			want: "250 end of DATA",
		},
		{
			name: "XFORWARD unavailable attribute",
			exts: []string{"XFORWARD NAME ADDR PORT"},
			msg: Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n"),
				XForward: map[string]string{"NAME": "", "ADDR": "", "PORT": ""}},
			steps: []step{ok("XFORWARD NAME=[UNAVAILABLE] ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE]", "250 Ok"),
				ok("MAIL FROM:<s@x>", "250 Ok"), ok("RCPT TO:<a@x>", "250 Ok"), data, dot},
			want: "250 end of DATA",
		},
		{
			name: "no XFORWARD to a server that does not offer it",
			msg: Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n"),
				XForward: map[string]string{"NAME": "spike.example"}},
			steps: []step{ok("MAIL FROM:<s@x>", "250 Ok"), ok("RCPT TO:<a@x>", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA"},
		},
		{
			name: "XFORWARD refused: a temporary failure",
			exts: []string{"XFORWARD NAME"},
			msg: Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n"),
				XForward: map[string]string{"NAME": "spike.example"}},
			steps:   []step{ok("XFORWARD NAME=spike.example", "550 5.7.0 Error: insufficient authorization")},
			want:    "0",
			wantErr: "550 5.7.0 Error: insufficient authorization",
			temp:    true,
		},
		{
			name: "lock-step without PIPELINING",
			msg:  Message{Sender: "s@x", Recipients: rcpts("a@x", "b@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL FROM:<s@x>", "250 Ok"), ok("RCPT TO:<a@x>", "250 Ok"),
				ok("RCPT TO:<b@x>", "250 Ok"), data, dot},
			want:  "250 end of DATA, 250 end of DATA",
			batch: 1,
		},
		{
			name:  "all recipients refused in lock-step: RSET, no DATA",
			msg:   Message{Sender: "s@x", Recipients: rcpts("a@x", "b@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "550 5.1.1 no"), ok("RCPT", "450 4.2.0 later"), ok("RSET", "250 Ok")},
			want:  "550 RCPT TO, 450 RCPT TO",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "RCPT TO:<b@x>", "RSET"},
		},
		{
			name: "all recipients refused, pipelined: no content, RSET",
			exts: []string{"PIPELINING"},
			msg:  Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "550 5.1.1 no"),
				ok("DATA", "554 5.5.1 Error: no valid recipients"), ok("RSET", "250 Ok")},
			want:  "550 RCPT TO",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA", "RSET"},
		},
		{
			name:  "MAIL refused: every recipient gets its reply",
			msg:   Message{Sender: "s@x", Recipients: rcpts("a@x", "b@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "553 5.1.8 sender rejected"), ok("RSET", "250 Ok")},
			want:  "553 MAIL FROM, 553 MAIL FROM",
			lines: []string{"MAIL FROM:<s@x>", "RSET"},
		},
		{
			name: "MAIL refused, pipelined",
			exts: []string{"PIPELINING"},
			msg:  Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "553 5.1.8 sender rejected"), ok("RCPT", "503 5.5.1 need MAIL"),
				ok("DATA", "503 5.5.1 need RCPT"), ok("RSET", "250 Ok")},
			want: "553 MAIL FROM",
		},
		{
			name:  "DATA refused",
			msg:   Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), ok("DATA", "451 4.3.0 later"), ok("RSET", "250 Ok")},
			want:  "451 DATA",
		},
		{
			name: "DSN parameters when DSN is offered",
			exts: []string{"DSN", "SIZE 1000"},
			msg: Message{Sender: "s@x", Size: 42, Ret: "hdrs", EnvID: "id+1=2",
				Recipients: []Recipient{{Addr: "a@x", Notify: "SUCCESS,FAILURE", ORcpt: "rfc822;A+b=c@x"}, {Addr: "b@x"}},
				Body:       strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA, 250 end of DATA",
			lines: []string{"MAIL FROM:<s@x> SIZE=42 RET=HDRS ENVID=id+2B1+3D2",
				"RCPT TO:<a@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;A+2Bb+3Dc@x", "RCPT TO:<b@x>", "DATA"},
		},
		{
			name: "no DSN parameters without DSN",
			msg: Message{Sender: "s@x", Size: 42, Ret: "FULL", EnvID: "id",
				Recipients: []Recipient{{Addr: "a@x", Notify: "NEVER", ORcpt: "rfc822;a@x"}}, Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA"},
		},
		{
			name:  "SIZE limit exceeded: nothing sent",
			exts:  []string{"SIZE 100"},
			msg:   Message{Sender: "s@x", Size: 101, Recipients: rcpts("a@x", "b@x"), Body: strings.NewReader("hi\n")},
			want:  "552, 552",
			texts: []string{"message size 101 exceeds size limit 100 of server mx.example.com[192.0.2.1]"},
			lines: []string{},
		},
		{
			name:  "SMTPUTF8 needed but not offered: nothing sent",
			exts:  []string{"8BITMIME"},
			msg:   Message{Sender: "s@x", SMTPUTF8: true, Recipients: rcpts("a@x", "jörg@example.de"), Body: strings.NewReader("hi\n")},
			want:  "553, 553",
			texts: []string{"SMTPUTF8 is required, but was not offered by host mx.example.com[192.0.2.1]"},
			lines: []string{},
		},
		{
			name:  "SMTPUTF8 requested, offered",
			exts:  []string{"SMTPUTF8", "8BITMIME"},
			msg:   Message{Sender: "s@x", SMTPUTF8: true, EightBit: true, Recipients: rcpts("jörg@example.de"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x> BODY=8BITMIME SMTPUTF8", "RCPT TO:<jörg@example.de>", "DATA"},
		},
		{
			name:  "SMTPUTF8 requested, not offered, not needed",
			msg:   Message{Sender: "s@x", SMTPUTF8: true, Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA"},
		},
		{
			name:  "dot-stuffing and line ends",
			msg:   Message{Sender: "", Recipients: rcpts("a@x"), Body: strings.NewReader("Subject: t\n\n.\n..x\nmid.dle\r\nbare\rcr\n.last")},
			steps: []step{ok("MAIL FROM:<>", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			body:  "Subject: t\r\n\r\n..\r\n...x\r\nmid.dle\r\nbare\rcr\r\n..last\r\n.\r\n",
		},
		{
			name:  "empty body",
			msg:   Message{Sender: "s@x", Recipients: rcpts("a@x")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			body:  ".\r\n",
		},
		{
			name:  "long line broken at the line length limit",
			opt:   Options{LineLengthLimit: 10},
			msg:   Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("0123456789abcdefghijKLM\nshort\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			body:  "0123456789\r\n abcdefghi\r\n jKLM\r\nshort\r\n.\r\n",
		},
		{
			name: "LMTP replies per recipient",
			opt:  Options{LMTP: true},
			exts: []string{"PIPELINING", "ENHANCEDSTATUSCODES"},
			msg:  Message{Sender: "s@x", Recipients: rcpts("a@x", "b@x", "c@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT TO:<a@x>", "250 Ok"), ok("RCPT TO:<b@x>", "550 5.1.1 unknown"),
				ok("RCPT TO:<c@x>", "250 Ok"), data,
				{do: "body", reply: "250 2.0.0 <a@x> delivered\n452 4.2.2 <c@x> mailbox full"}},
			want:  "250 end of DATA, 550 RCPT TO, 452 end of DATA",
			texts: []string{"250 2.0.0 <a@x> delivered", "550 5.1.1 unknown", "452 4.2.2 <c@x> mailbox full"},
		},
		{
			name:    "connection drop mid-DATA",
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader(strings.Repeat("0123456789abcdef\n", 1<<18))},
			steps:   []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), {expect: "DATA", reply: "354 go", do: "close"}},
			want:    "0",
			wantErr: "lost connection with mx.example.com[192.0.2.1] while sending message body", temp: true,
		},
		{
			name:    "connection drop after the final dot",
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps:   []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, {do: "body"}, {do: "close"}},
			want:    "0",
			wantErr: "while sending end of data -- message may be sent more than once", temp: true,
		},
		{
			name:    "421 at RCPT keeps earlier answers",
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x", "b@x", "c@x"), Body: strings.NewReader("hi\n")},
			steps:   []step{ok("MAIL", "250 Ok"), ok("RCPT", "550 5.1.1 no"), {expect: "RCPT", reply: "421 4.3.2 bye", do: "close"}},
			want:    "550 RCPT TO, 0, 0",
			wantErr: "421 4.3.2 bye (in reply to RCPT TO command)", temp: true,
		},
		{
			name:    "MAIL timeout",
			opt:     Options{Timeouts: Timeouts{Mail: 100 * time.Millisecond}},
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps:   []step{{expect: "MAIL", do: "hang"}},
			want:    "0",
			wantErr: "timed out while sending MAIL FROM", temp: true,
		},
		{
			name:    "RCPT timeout, pipelined",
			exts:    []string{"PIPELINING"},
			opt:     Options{Timeouts: Timeouts{Rcpt: 100 * time.Millisecond}},
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps:   []step{ok("MAIL", "250 Ok"), {expect: "RCPT", do: "hang"}},
			want:    "0",
			wantErr: "timed out while sending RCPT TO", temp: true,
		},
		{
			name:    "DATA timeout",
			opt:     Options{Timeouts: Timeouts{Data: 100 * time.Millisecond}},
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps:   []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), {expect: "DATA", do: "hang"}},
			want:    "0",
			wantErr: "timed out while sending DATA", temp: true,
		},
		{
			name:    "end of DATA timeout",
			opt:     Options{Timeouts: Timeouts{DataDone: 100 * time.Millisecond}},
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader("hi\n")},
			steps:   []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, {do: "body"}, {do: "hang"}},
			want:    "0",
			wantErr: "timed out while sending end of data", temp: true,
		},
		{
			name:    "body write timeout",
			opt:     Options{Timeouts: Timeouts{Body: 100 * time.Millisecond}},
			msg:     Message{Sender: "s@x", Recipients: rcpts("a@x"), Body: strings.NewReader(strings.Repeat("0123456789abcdef\n", 1<<20))},
			steps:   []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), {expect: "DATA", reply: "354 go", do: "stall"}},
			want:    "0",
			wantErr: "timed out while sending message body", temp: true,
		},
		{
			name:  "8-bit MIME downgraded without 8BITMIME",
			msg:   Message{Sender: "s@x", EightBit: true, Recipients: rcpts("a@x"), Body: strings.NewReader("MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA"},
			body:  "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n.\r\n",
		},
		{
			// disable_mime_output_conversion = yes
			name:  "8-bit MIME as is without 8BITMIME when conversion is off",
			opt:   Options{NoDowngrade: true},
			msg:   Message{Sender: "s@x", EightBit: true, Recipients: rcpts("a@x"), Body: strings.NewReader("MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<a@x>", "DATA"},
			body:  "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n.\r\n",
		},
		{
			name:  "8-bit MIME as is with 8BITMIME",
			exts:  []string{"8BITMIME"},
			msg:   Message{Sender: "s@x", EightBit: true, Recipients: rcpts("a@x"), Body: strings.NewReader("MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT", "250 Ok"), data, dot},
			want:  "250 end of DATA",
			lines: []string{"MAIL FROM:<s@x> BODY=8BITMIME", "RCPT TO:<a@x>", "DATA"},
			body:  "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n.\r\n",
		},
		{
			name:  "recipient with a line break is refused locally",
			msg:   Message{Sender: "s@x", Recipients: rcpts("a@x>\r\nDATA", "b@x"), Body: strings.NewReader("hi\n")},
			steps: []step{ok("MAIL", "250 Ok"), ok("RCPT TO:<b@x>", "250 Ok"), data, dot},
			want:  "553, 250 end of DATA",
			lines: []string{"MAIL FROM:<s@x>", "RCPT TO:<b@x>", "DATA"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := script(greet(tc.exts...), tc.steps)
			if tc.opt.LMTP {
				sc[1].expect = "LHLO "
			}
			conn, fs := startFake(t, sc)
			opt := tc.opt
			opt.Helo = "c"
			s, err := Open(testCtx(t), conn, testPeer, opt)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			start := time.Now()
			res, err := s.Send(testCtx(t), tc.msg)
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("Send took %v", d)
			}
			if tc.wantErr != "" {
				checkErr(t, err, tc.wantErr, tc.temp, "")
			} else if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := summary(res); got != tc.want {
				t.Errorf("results %q, want %q", got, tc.want)
			}
			for i, want := range tc.texts {
				if res[i].Reply.Text != want {
					t.Errorf("result %d text %q, want %q", i, res[i].Reply.Text, want)
				}
			}
			conn.Close()
			fs.wait(t)
			lines, bodies := fs.got()
			if tc.lines != nil && strings.Join(lines[1:], "|") != strings.Join(tc.lines, "|") {
				t.Errorf("server saw %q, want %q", lines[1:], tc.lines)
			}
			if tc.body != "" && (len(bodies) != 1 || bodies[0] != tc.body) {
				t.Errorf("server got content %q, want %q", bodies, tc.body)
			}
			if tc.batch > 0 {
				checkBatch(t, fs.raw.reads(), tc.batch)
			}
		})
	}
}

// checkBatch checks that the read holding MAIL FROM holds n commands.
func checkBatch(t *testing.T, reads []string, n int) {
	t.Helper()
	for _, r := range reads {
		if strings.HasPrefix(r, "MAIL FROM") {
			if got := strings.Count(r, "\r\n"); got != n {
				t.Errorf("read with MAIL FROM holds %d commands, want %d: %q", got, n, r)
			}
			return
		}
	}
	t.Errorf("no read starts with MAIL FROM: %q", reads)
}
