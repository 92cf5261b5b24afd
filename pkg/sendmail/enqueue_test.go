package sendmail

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/ipc"
)

func TestEnqueueSubmits(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		stdin string
		req   string // request record, one attribute a line
		body  string
	}{
		{
			name:  "all envelope options",
			args:  []string{"-i", "-f", "Bob <bob@example.com>", "-F", "Bob B", "-N", "success,delay", "-R", "hdrs", "-V", "env1", "rcpt1@x", "Name <rcpt2@y>, r3"},
			stdin: "Subject: hi\r\n\r\nbody\r\n.\r\nmore\r\n",
			req: "request=submit\nsender=bob@example.com\nrcpt=rcpt1@x\nrcpt=rcpt2@y\nrcpt=r3\n" +
				"fullname=Bob B\nenvid=env1\nret=HDRS\nnotify=SUCCESS,DELAY\n",
			body: "Subject: hi\n\nbody\n.\nmore\n",
		},
		{
			name:  "-XV: VERP with default_verp_delimiters",
			args:  []string{"-XV", "-f", "list@example.com", "member@x"},
			stdin: "x\n",
			req:   "request=submit\nsender=list@example.com\nrcpt=member@x\nverp=+=\n",
			body:  "x\n",
		},
		{
			name:  "-XV with its own delimiters",
			args:  []string{"-XV-=", "-f", "list@example.com", "member@x"},
			stdin: "x\n",
			req:   "request=submit\nsender=list@example.com\nrcpt=member@x\nverp=-=\n",
			body:  "x\n",
		},
		{
			// -SMTPUTF8 was refused as an unknown option -S.
			name:  "-SMTPUTF8 asks for SMTPUTF8",
			args:  []string{"-SMTPUTF8", "-f", "jörg@example.com", "müller@x"},
			stdin: "Subject: Grüße\n\nx\n",
			req:   "request=submit\nsender=jörg@example.com\nrcpt=müller@x\nsmtputf8=1\n",
			body:  "Subject: Grüße\n\nx\n",
		},
		{
			name:  "no -f: the server picks the sender",
			args:  []string{"root"},
			stdin: "Subject: cron\n\nout\n.\nlost\n",
			req:   "request=submit\nrcpt=root\n",
			body:  "Subject: cron\n\nout\n",
		},
		{
			name:  "null sender",
			args:  []string{"-f", "<>", "-oi", "root"},
			stdin: "x\n",
			req:   "request=submit\nsender=\nrcpt=root\n",
			body:  "x\n",
		},
		{
			name:  "empty input is a message",
			args:  []string{"root"},
			stdin: "",
			req:   "request=submit\nrcpt=root\n",
			body:  "",
		},
		{
			name:  "-t extracts, adds argument recipients, removes Bcc",
			args:  []string{"-t", "-i", "arg@x"},
			stdin: "From: me\r\nTo: a@x, B <b@y>\r\nBcc: hidden@z\r\nSubject: s\r\n\r\nBcc: body@q\r\n",
			req:   "request=submit\nrcpt=arg@x\nrcpt=a@x\nrcpt=b@y\nrcpt=hidden@z\n",
			body:  "From: me\nTo: a@x, B <b@y>\nSubject: s\n\nBcc: body@q\n",
		},
		{
			name:  "mbox From_ line dropped",
			args:  []string{"root"},
			stdin: "From someone Mon Jan  1 00:00:00 2024\nSubject: s\n\nb\n",
			req:   "request=submit\nrcpt=root\n",
			body:  "Subject: s\n\nb\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			p := startPickup(t, env, okReply)
			res := runMain(t, env, "/usr/sbin/sendmail", tt.args, tt.stdin)
			if res.code != 0 || res.stdout != "" || res.stderr != "" {
				t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
			}
			subs := p.submissions(t, 1)
			if len(subs) != 1 {
				t.Fatalf("%d submissions", len(subs))
			}
			if got := recordString(subs[0].req); got != tt.req {
				t.Errorf("request:\n%s\nwant:\n%s", got, tt.req)
			}
			if subs[0].body != tt.body || subs[0].bodyErr != nil {
				t.Errorf("body %q (%v), want %q", subs[0].body, subs[0].bodyErr, tt.body)
			}
			if files := maildropFiles(t, env); len(files) != 0 {
				t.Errorf("maildrop not empty: %v", files)
			}
		})
	}
}

// TestTraceRequests: -bv submits a stand-in message naming the
// recipients, without reading standard input, and -v the message read;
// each asks for a report and says where it will be mailed.
func TestTraceRequests(t *testing.T) {
	tests := []struct {
		name                string
		args                []string
		trace, body, sender string
	}{
		{"verify", []string{"-bv", "root", "team@example.com"}, "verify",
			"Subject: probe\nTo: root, team@example.com\n\n", "<tester>"},
		{"verify with sender", []string{"-bv", "-f", "bob@example.com", "root"}, "verify",
			"Subject: probe\nTo: root\n\n", "<bob@example.com>"},
		{"record", []string{"-v", "-oi", "root"}, "record", "Subject: hi\n\nbody\n", "<tester>"},
		{"record, verbose too", []string{"-v", "-v", "-oi", "root"}, "record", "Subject: hi\n\nbody\n", "<tester>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			env.Whoami = func() (string, int) { return "tester", 1000 }
			p := startPickup(t, env, okReply)
			res := runMain(t, env, "sendmail", tt.args, "Subject: hi\n\nbody\n")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if want := "Mail Delivery Status Report will be mailed to " + tt.sender + ".\n"; res.stdout != want {
				t.Errorf("stdout %q, want %q", res.stdout, want)
			}
			subs := p.submissions(t, 1)
			if len(subs) != 1 {
				t.Fatalf("%d submissions", len(subs))
			}
			if got := subs[0].req.Get(AttrTrace); got != tt.trace {
				t.Errorf("trace %q, want %q", got, tt.trace)
			}
			if subs[0].body != tt.body {
				t.Errorf("body %q, want %q", subs[0].body, tt.body)
			}
		})
	}
	// Without -v or -bv: no report, nothing printed.
	env := testEnv(t)
	p := startPickup(t, env, okReply)
	if res := runMain(t, env, "sendmail", []string{"-oi", "root"}, "x\n"); res.code != 0 || res.stdout != "" {
		t.Errorf("plain: %+v", res)
	}
	if subs := p.submissions(t, 1); len(subs) != 1 || subs[0].req.Get(AttrTrace) != "" {
		t.Errorf("plain submission asks for a report: %+v", subs)
	}
}

func TestEnqueueLargeBody(t *testing.T) {
	env := testEnv(t)
	p := startPickup(t, env, okReply)
	body := strings.Repeat("0123456789abcdef\n", 20000) // several data frames
	res := runMain(t, env, "sendmail", []string{"-oi", "u"}, body)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if subs := p.submissions(t, 1); len(subs) != 1 || subs[0].body != body {
		t.Fatalf("body not received intact")
	}
}

func TestEnqueueErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		reply  ipc.Record
		limit  int64
		code   int
		stderr string
	}{
		// A temporary refusal goes to maildrop:
		// TestPickupTemporaryRefusalGoesToMaildrop.
		{
			name: "symbolic code", args: []string{"-f", "bob@x", "u"}, stdin: "x\n",
			reply:  ipc.Record{{Name: AttrStatus, Value: StatusError}, {Name: AttrCode, Value: "EX_NOPERM"}, {Name: AttrText, Value: "not allowed"}},
			code:   ExNoPerm,
			stderr: "sendmail: fatal: bob@x(1000): not allowed\n",
		},
		{
			name: "missing code", args: []string{"u"}, stdin: "x\n",
			reply:  ipc.Record{{Name: AttrStatus, Value: StatusError}, {Name: AttrText, Value: "odd"}},
			code:   ExSoftware,
			stderr: "sendmail: fatal: alice(1000): odd\n",
		},
		{
			name: "garbage reply", args: []string{"u"}, stdin: "x\n",
			reply: ipc.Record{{Name: "what", Value: "ever"}},
			code:  ExSoftware,
		},
		{
			name: "too big", args: []string{"u"}, stdin: "0123456789\n", limit: 10,
			reply:  okReply,
			code:   ExUnavailable,
			stderr: "sendmail: fatal: alice(1000): message file too big\n",
		},
		{
			name: "no recipients", args: []string{"-i"}, stdin: "x\n", reply: okReply,
			code:   ExUsage,
			stderr: "sendmail: fatal: Recipient addresses must be specified on the command line or via the -t option\n",
		},
		{
			name: "-t without recipients", args: []string{"-t"}, stdin: "Subject: x\n\n", reply: okReply,
			code:   ExUsage,
			stderr: "sendmail: fatal: alice(1000): No recipient addresses found in message header\n",
		},
		{
			name: "bad VERP delimiters", args: []string{"-XV+x", "u"}, stdin: "x\n", reply: okReply,
			code:   ExUsage,
			stderr: "sendmail: fatal: -XV requires two characters from -=+\n",
		},
		{
			name: "unknown option", args: []string{"-z", "u"}, reply: okReply,
			code:   ExUsage,
			stderr: "sendmail: invalid option -- 'z'\nsendmail: fatal: usage: sendmail [options] [recipient ...]\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			env.MessageSizeLimit = tt.limit
			startPickup(t, env, tt.reply)
			res := runMain(t, env, "sendmail", tt.args, tt.stdin)
			if res.code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", res.code, tt.code, res.stderr)
			}
			if tt.stderr != "" && res.stderr != tt.stderr {
				t.Errorf("stderr %q, want %q", res.stderr, tt.stderr)
			}
			if !strings.HasPrefix(res.stderr, "sendmail: ") || res.stdout != "" {
				t.Errorf("stdout %q stderr %q", res.stdout, res.stderr)
			}
		})
	}
}

func TestEnqueueTooBigIsNotSubmitted(t *testing.T) {
	env := testEnv(t)
	env.MessageSizeLimit = 100
	p := startPickup(t, env, okReply)
	res := runMain(t, env, "sendmail", []string{"u"}, strings.Repeat("x\n", 100))
	if res.code != ExUnavailable {
		t.Fatalf("exit %d", res.code)
	}
	// The message is spooled before connecting, so nothing reached pickup.
	if subs := p.submissions(t, 0); len(subs) != 0 {
		t.Errorf("server got %d submissions", len(subs))
	}
}

func TestEnqueueMaildropFallback(t *testing.T) {
	env := testEnv(t) // nothing listens on public/pickup
	stdin := "To: x@y\r\nBcc: z@w\r\n\r\nhello\r\n"
	res := runMain(t, env, "sendmail", []string{"-t", "-oi", "-f", "me@here", "-Fme", "a@b"}, stdin)
	if res.code != 0 || res.stdout != "" || res.stderr != "" {
		t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	files := maildropFiles(t, env)
	if len(files) != 1 {
		t.Fatalf("maildrop holds %v", files)
	}
	name := files[0]
	if strings.HasPrefix(name, "tmp.") || !strings.HasPrefix(name, "1700000000000000005.") {
		t.Errorf("maildrop file name %q", name)
	}
	path := filepath.Join(env.QueueDirectory, MaildropDir, name)

	// Frame by frame, with ipc.ReadFrame.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var types []byte
	for n := 0; n < 100; n++ {
		typ, _, err := ipc.ReadFrame(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
	}
	if string(types) != "QDE" {
		t.Errorf("frame types %q, want QDE", types)
	}

	// And with ReadMaildrop.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	req, body, err := ReadMaildrop(f)
	if err != nil {
		t.Fatal(err)
	}
	wantReq := "request=submit\nsender=me@here\nrcpt=a@b\nrcpt=x@y\nrcpt=z@w\nfullname=me\n"
	if got := recordString(req); got != wantReq {
		t.Errorf("request:\n%s\nwant:\n%s", got, wantReq)
	}
	b, err := io.ReadAll(body)
	if err != nil || string(b) != "To: x@y\n\nhello\n" {
		t.Errorf("body %q, %v", b, err)
	}
}

func TestEnqueueNowhereToGo(t *testing.T) {
	env := testEnv(t)
	if err := os.Remove(filepath.Join(env.QueueDirectory, MaildropDir)); err != nil {
		t.Fatal(err)
	}
	res := runMain(t, env, "sendmail", []string{"u"}, "x\n")
	if res.code != ExTempFail {
		t.Fatalf("exit %d, want %d", res.code, ExTempFail)
	}
	if strings.Count(res.stderr, "\n") != 1 || !strings.HasPrefix(res.stderr, "sendmail: fatal: alice(1000): cannot submit mail: ") {
		t.Errorf("stderr %q", res.stderr)
	}
}

func TestMaildropAbortRemovesTemp(t *testing.T) {
	env := testEnv(t)
	env.MessageSizeLimit = 5
	res := runMain(t, env, "sendmail", []string{"u"}, "far too long\n")
	if res.code != ExUnavailable {
		t.Fatalf("exit %d", res.code)
	}
	if files := maildropFiles(t, env); len(files) != 0 {
		t.Errorf("maildrop holds %v after an aborted submission", files)
	}
}

func TestReadMaildropRejects(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not a request", requestFrame(t, ipc.Record{{Name: AttrRequest, Value: "flush"}})},
		{"reply frame", []byte{'R', 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if _, _, err := ReadMaildrop(strings.NewReader(string(tt.data))); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
	// A truncated body is reported as such.
	head := requestFrame(t, ipc.Record{{Name: AttrRequest, Value: RequestSubmit}})
	_, body, err := ReadMaildrop(strings.NewReader(string(head) + "D\x00\x00\x00\x02hi"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated body: %v", err)
	}
}

func FuzzReadMaildrop(f *testing.F) {
	var b strings.Builder
	c := ipc.NewConn(streamConn{w: &b}, 0)
	_ = c.Send(ipc.FrameRequest, ipc.Record{{Name: AttrRequest, Value: RequestSubmit}, {Name: AttrRcpt, Value: "a"}})
	w := c.BodyWriter()
	_, _ = w.Write([]byte("body\n"))
	_ = w.Close()
	f.Add([]byte(b.String()))
	f.Add([]byte("Q\x00\x00\x00\x01\x07"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, body, err := ReadMaildrop(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, body)
	})
}

// requestFrame encodes a request frame.
func requestFrame(t *testing.T, r ipc.Record) []byte {
	t.Helper()
	var b strings.Builder
	c := ipc.NewConn(streamConn{w: &b}, 0)
	if err := c.Send(ipc.FrameRequest, r); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

func TestEnqueueSpillsLargeMessages(t *testing.T) {
	env := testEnv(t)
	p := startPickup(t, env, okReply)
	body := strings.Repeat(strings.Repeat("z", 99)+"\n", (spoolMemory/100)*3) // 3 MiB
	res := runMain(t, env, "sendmail", []string{"-oi", "u"}, body)
	if res.code != 0 {
		t.Fatalf("exit %d: %s", res.code, res.stderr)
	}
	if subs := p.submissions(t, 1); len(subs) != 1 || subs[0].body != body {
		t.Fatal("body not received intact")
	}
	if files := maildropFiles(t, env); len(files) != 0 {
		t.Errorf("spool file left in maildrop: %v", files)
	}
}

// watchedInput fails the test if the pickup socket was dialled before the
// whole input was read.
type watchedInput struct {
	t      *testing.T
	r      io.Reader
	dialed *bool
}

func (w watchedInput) Read(p []byte) (int, error) {
	if *w.dialed {
		w.t.Error("pickup dialled before the input was complete")
	}
	return w.r.Read(p)
}

func TestEnqueueConnectsAfterInput(t *testing.T) {
	env := testEnv(t)
	p := startPickup(t, env, okReply)
	dialed := false
	dial := env.Dial
	env.Dial = func(path string) (*ipc.Conn, error) {
		dialed = true
		return dial(path)
	}
	var out, errb strings.Builder
	env.Stdin = watchedInput{t: t, r: io.MultiReader(strings.NewReader("a\n"), strings.NewReader("b\n")), dialed: &dialed}
	env.Stdout, env.Stderr = &out, &errb
	if code := Main("sendmail", []string{"u"}, env); code != 0 || !dialed {
		t.Fatalf("exit %d dialed %v: %s", code, dialed, errb.String())
	}
	if subs := p.submissions(t, 1); len(subs) != 1 || subs[0].body != "a\nb\n" {
		t.Fatalf("submissions %+v", subs)
	}
}

// TestPickupDiesMidSubmissionFallsBackToMaildrop pins the bug where a qmgr
// killed while a submission was in flight made sendmail exit 75 although
// maildrop was available: found by the kill -9 integration test.
func TestPickupDiesMidSubmissionFallsBackToMaildrop(t *testing.T) {
	tests := []struct {
		name string
		h    ipc.Handler
	}{
		{"closed after the request", func(ctx context.Context, c *ipc.Conn) {
			c.Receive(ipc.FrameRequest)
		}},
		{"closed after the body, no reply", func(ctx context.Context, c *ipc.Conn) {
			c.Receive(ipc.FrameRequest)
			io.Copy(io.Discard, c.BodyReader())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			fakeServer(t, env, PickupSocket, tt.h)
			res := runMain(t, env, "sendmail", []string{"a@b"}, "Subject: s\n\nbody\n")
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if files := maildropFiles(t, env); len(files) != 1 {
				t.Fatalf("maildrop holds %v, want one file", files)
			}
		})
	}
}

// TestPickupRefusals: a temporary refusal (qmgr stopping, its disk full)
// sends the message to maildrop; a permanent one is the caller's answer.
func TestPickupRefusals(t *testing.T) {
	tests := []struct {
		name, code, dsn, text string
		exit, maildropFiles   int
	}{
		{"temporary goes to maildrop", "75", "4.3.0", "queue file write error", 0, 1},
		{"permanent is final", "65", "5.3.4", "message file too big", 65, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			fakeServer(t, env, PickupSocket, func(ctx context.Context, c *ipc.Conn) {
				c.Receive(ipc.FrameRequest)
				io.Copy(io.Discard, c.BodyReader())
				c.Send(ipc.FrameReply, ipc.Record{{Name: AttrStatus, Value: StatusError}, {Name: AttrCode, Value: tt.code},
					{Name: AttrDSN, Value: tt.dsn}, {Name: AttrText, Value: tt.text}})
			})
			res := runMain(t, env, "sendmail", []string{"a@b"}, "Subject: s\n\nbody\n")
			if res.code != tt.exit {
				t.Errorf("exit %d, want %d: %s", res.code, tt.exit, res.stderr)
			}
			if files := maildropFiles(t, env); len(files) != tt.maildropFiles {
				t.Errorf("maildrop holds %v, want %d files", files, tt.maildropFiles)
			}
		})
	}
}

// TestEnqueueSkipsUserLookupOnSuccess pins that a successful call does
// not read the password database: the login name appears only in error
// messages, and the lookup cost every call of cron or mail() its time.
func TestEnqueueSkipsUserLookupOnSuccess(t *testing.T) {
	env := testEnv(t)
	calls := 0
	env.Whoami = func() (string, int) { calls++; return "alice", 1000 }
	startPickup(t, env, okReply)
	if r := runMain(t, env, "sendmail", []string{"-i", "u"}, "x\n"); r.code != ExOK {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if calls != 0 {
		t.Errorf("Whoami called %d times on success, want 0", calls)
	}
	if r := runMain(t, env, "sendmail", nil, "x\n"); r.code != ExUsage {
		t.Fatalf("no recipients: exit %d, want %d", r.code, ExUsage)
	}
	r := runMain(t, env, "sendmail", []string{"-t"}, "Subject: none\n\nx\n")
	if r.code != ExUsage || !strings.Contains(r.stderr, "alice(1000)") || calls != 1 {
		t.Errorf("-t without recipients: exit %d, stderr %q, Whoami calls %d; want %d, alice(1000), 1", r.code, r.stderr, calls, ExUsage)
	}
}
