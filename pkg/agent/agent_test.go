package agent

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
)

// fakeDeliverer records each request (with the body read whole) and answers
// with results made by answer, or one OK result per recipient.
type fakeDeliverer struct {
	mu     sync.Mutex
	reqs   []*Request
	bodies [][]byte
	kinds  []string // memBody or fileBody
	answer func(req *Request) []Result
	during func(req *Request) // runs while the body is still open
}

func (f *fakeDeliverer) Deliver(_ context.Context, req *Request) []Result {
	b, err := io.ReadAll(Reader(req.Body))
	if err != nil {
		b = []byte("read error: " + err.Error())
	}
	// Read it twice: a Body may be read as often as the agent likes.
	again, _ := io.ReadAll(Reader(req.Body))
	if !bytes.Equal(b, again) {
		b = []byte("second read differs")
	}
	kind := "other"
	switch req.Body.(type) {
	case memBody:
		kind = "memBody"
	case fileBody:
		kind = "fileBody"
	}
	if f.during != nil {
		f.during(req)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.bodies = append(f.bodies, b)
	f.kinds = append(f.kinds, kind)
	f.mu.Unlock()
	if f.answer != nil {
		return f.answer(req)
	}
	out := make([]Result, len(req.Recipients))
	for i := range out {
		out[i] = Result{Status: OK, DSN: "2.0.0", Text: "delivered to mailbox", Relay: "local"}
	}
	return out
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (c *countingListener) Accept() (net.Conn, error) {
	nc, err := c.Listener.Accept()
	if err == nil {
		c.n.Add(1)
	}
	return nc, err
}

type syncBuffer = testutil.SyncBuffer

type harness struct {
	path     string
	spoolDir string
	lis      *countingListener
	log      *syncBuffer
}

// startServer runs a Server with d on a unix socket in a temporary
// directory until the test ends.
func startServer(t *testing.T, d Deliverer, memLimit int64) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{path: filepath.Join(dir, "local"), spoolDir: filepath.Join(dir, "spool"), log: &syncBuffer{}}
	if err := os.Mkdir(h.spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", h.path)
	if err != nil {
		t.Fatal(err)
	}
	h.lis = &countingListener{Listener: l}
	srv := &Server{Deliverer: d, Log: maillog.NewWriter(h.log, "tern/local"), SpoolDir: h.spoolDir, MemLimit: memLimit}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ipc.Serve(ctx, h.lis, 5*time.Second, srv.ServeConn)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func dial(t *testing.T, h *harness) *Client {
	t.Helper()
	cl, err := DialAgent(h.path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func testEnv() *envelope.Envelope {
	return &envelope.Envelope{ID: "4QueueId1", Sender: "sender@example.com", Arrival: time.Now().Add(-time.Second), Protocol: "ESMTP"}
}

func TestClientServerRoundTrip(t *testing.T) {
	fd := &fakeDeliverer{answer: func(req *Request) []Result {
		out := make([]Result, len(req.Recipients))
		for i, rc := range req.Recipients {
			switch {
			case strings.HasPrefix(rc.Address, "ok"):
				out[i] = Result{Status: OK, DSN: "2.0.0", Text: "delivered to mailbox", Relay: "local"}
			case strings.HasPrefix(rc.Address, "later"):
				out[i] = Deferf("4.2.2", "mailbox full (%d)", i)
			default:
				out[i] = Bouncef("5.1.1", "unknown user: %q", rc.Address)
				out[i].Relay = "mx.example.net[192.0.2.7]:25"
			}
		}
		return out
	}}
	h := startServer(t, fd, 1<<20)
	cl := dial(t, h)
	rcpts := []envelope.Recipient{
		{Address: "ok1@example.com", Original: "ok1", Notify: "NEVER"},
		{Address: "later@example.com"},
		{Address: "gone@example.com", ORcpt: "rfc822;gone@example.com"},
	}
	body := "Subject: hi\n\nline one\nline two\n"
	res, err := cl.Deliver(testEnv(), rcpts, "local", "example.com", strings.NewReader(body))
	if err != nil {
		t.Fatalf("Deliver: %v", err)
	}
	want := []Result{
		{Status: OK, DSN: "2.0.0", Text: "delivered to mailbox", Relay: "local"},
		{Status: Defer, DSN: "4.2.2", Text: "mailbox full (1)"},
		{Status: Bounce, DSN: "5.1.1", Text: `unknown user: "gone@example.com"`, Relay: "mx.example.net[192.0.2.7]:25"},
	}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results\n got %+v\nwant %+v", res, want)
	}
	if len(fd.reqs) != 1 {
		t.Fatalf("%d requests", len(fd.reqs))
	}
	req := fd.reqs[0]
	if req.Transport != "local" || req.Nexthop != "example.com" || req.Env.ID != "4QueueId1" || req.Env.Sender != "sender@example.com" || req.Env.Protocol != "ESMTP" {
		t.Errorf("request %+v env %+v", req, req.Env)
	}
	if !reflect.DeepEqual(req.Recipients, rcpts) {
		t.Errorf("recipients\n got %+v\nwant %+v", req.Recipients, rcpts)
	}
	if string(fd.bodies[0]) != body || fd.kinds[0] != "memBody" {
		t.Errorf("body %q (%s)", fd.bodies[0], fd.kinds[0])
	}
	// The server logs one line per recipient.
	log := h.log.String()
	for _, s := range []string{
		"4QueueId1: to=<ok1@example.com>, orig_to=<ok1>, relay=local,",
		"status=sent (delivered to mailbox)",
		"to=<later@example.com>, relay=none,",
		"dsn=4.2.2, status=deferred (mailbox full (1))",
		"relay=mx.example.net[192.0.2.7]:25",
		"status=bounced (unknown user",
	} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q:\n%s", s, log)
		}
	}
}

func TestClientReusesConnection(t *testing.T) {
	fd := &fakeDeliverer{}
	h := startServer(t, fd, 1<<20)
	cl := dial(t, h)
	for i := 0; i < 3; i++ {
		body := strings.Repeat("x", i*100) + "\n"
		rc := []envelope.Recipient{{Address: "u@example.com"}}
		res, err := cl.Deliver(testEnv(), rc, "local", "", strings.NewReader(body))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if len(res) != 1 || res[0].Status != OK {
			t.Fatalf("request %d: %+v", i, res)
		}
		if got := string(fd.bodies[i]); got != body {
			t.Errorf("request %d body %q", i, got)
		}
	}
	if n := h.lis.n.Load(); n != 1 {
		t.Errorf("%d connections for 3 requests, want 1", n)
	}
}

func TestServerSpoolsLargeBody(t *testing.T) {
	var spoolEntries []int
	fd := &fakeDeliverer{}
	h := startServer(t, fd, 1000)
	fd.during = func(*Request) {
		// The spool file is unlinked while in use.
		es, _ := os.ReadDir(h.spoolDir)
		spoolEntries = append(spoolEntries, len(es))
	}
	cl := dial(t, h)
	small := strings.Repeat("s", 1000)
	large := strings.Repeat("0123456789abcdef", 200<<10/16) // 200 KiB: several data frames
	for _, body := range []string{small, large} {
		if _, err := cl.Deliver(testEnv(), []envelope.Recipient{{Address: "u@x"}}, "local", "", strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if fd.kinds[0] != "memBody" || fd.kinds[1] != "fileBody" {
		t.Errorf("body kinds %v, want [memBody fileBody]", fd.kinds)
	}
	if string(fd.bodies[0]) != small || string(fd.bodies[1]) != large {
		t.Errorf("bodies differ: lengths %d, %d", len(fd.bodies[0]), len(fd.bodies[1]))
	}
	if fd.reqs[1].Body.Size() != int64(len(large)) {
		t.Errorf("Size() = %d, want %d", fd.reqs[1].Body.Size(), len(large))
	}
	es, err := os.ReadDir(h.spoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 0 || !reflect.DeepEqual(spoolEntries, []int{0, 0}) {
		t.Errorf("spool dir holds %v after delivery, %v during", es, spoolEntries)
	}
}

func TestServerSpoolDirMissing(t *testing.T) {
	fd := &fakeDeliverer{}
	h := startServer(t, fd, 10)
	if err := os.Remove(h.spoolDir); err != nil {
		t.Fatal(err)
	}
	cl := dial(t, h)
	_, err := cl.Deliver(testEnv(), []envelope.Recipient{{Address: "u@x"}}, "local", "", strings.NewReader(strings.Repeat("y", 100)))
	if err == nil {
		t.Fatal("Deliver succeeded without a spool directory")
	}
	if len(fd.reqs) != 0 {
		t.Errorf("deliverer called with an unspooled body")
	}
	waitLog(t, h.log, "receive body")
}

func TestServerWrongResultCount(t *testing.T) {
	fd := &fakeDeliverer{answer: func(req *Request) []Result { return []Result{{Status: OK}} }}
	h := startServer(t, fd, 1<<20)
	cl := dial(t, h)
	_, err := cl.Deliver(testEnv(), []envelope.Recipient{{Address: "a@x"}, {Address: "b@x"}}, "local", "", strings.NewReader("x\n"))
	if err == nil {
		t.Fatal("Deliver succeeded with 1 result for 2 recipients")
	}
	waitLog(t, h.log, "1 results for 2 recipients")
}

func TestServerUnknownRequest(t *testing.T) {
	h := startServer(t, &fakeDeliverer{}, 1<<20)
	c, err := ipc.Dial(h.path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Call(ipc.Record{{Name: "request", Value: "bogus"}}); err == nil {
		t.Error("unknown request answered")
	}
	waitLog(t, h.log, `unknown request "bogus"`)
}

// waitLog polls the log for s with a deadline: the server logs after the
// client has seen the connection close.
func waitLog(t *testing.T, log *syncBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("log lacks %q:\n%s", s, log.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDecodeResults(t *testing.T) {
	tests := []struct {
		name    string
		rec     ipc.Record
		n       int
		want    []Result
		wantErr bool
	}{
		{"empty", nil, 0, []Result{}, false},
		{"count short", ipc.Record{{Name: "result", Value: "ok 2.0.0 x"}}, 2, nil, true},
		{"count long", ipc.Record{{Name: "result", Value: "ok 2.0.0 x"}, {Name: "result", Value: "ok 2.0.0 y"}}, 1, nil, true},
		{"bad status", ipc.Record{{Name: "result", Value: "maybe 2.0.0 x"}}, 1, nil, true},
		{"empty value", ipc.Record{{Name: "result", Value: ""}}, 1, nil, true},
		{"status only", ipc.Record{{Name: "result", Value: "defer"}}, 1, []Result{{Status: Defer}}, false},
		{"no text", ipc.Record{{Name: "result", Value: "bounce 5.1.1"}}, 1, []Result{{Status: Bounce, DSN: "5.1.1"}}, false},
		{"text with spaces", ipc.Record{{Name: "result", Value: "ok 2.0.0 delivered to  mailbox "}},
			1, []Result{{Status: OK, DSN: "2.0.0", Text: "delivered to  mailbox "}}, false},
		{"fewer relays", ipc.Record{{Name: "result", Value: "ok 2.0.0 a"}, {Name: "result", Value: "ok 2.0.0 b"}, {Name: "relay", Value: "r1"}},
			2, []Result{{Status: OK, DSN: "2.0.0", Text: "a", Relay: "r1"}, {Status: OK, DSN: "2.0.0", Text: "b"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResults(tt.rec, tt.n)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestEncodeResultsOneLine(t *testing.T) {
	in := []Result{{Status: Bounce, DSN: "5.0.0", Text: "line1\nline2", Relay: "r"}}
	got, err := decodeResults(encodeResults(in), 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Text != "line1 line2" || got[0].Relay != "r" {
		t.Errorf("got %+v", got[0])
	}
}

func TestEncodeResultsCarriesRemoteReply(t *testing.T) {
	in := []Result{
		{Status: OK, DSN: "2.0.0", Text: "250 ok", Relay: "local"},
		{Status: Bounce, DSN: "5.1.1", Text: "host mx[192.0.2.1] said: 550 5.1.1 gone", Relay: "mx[192.0.2.1]:25",
			Diagnostic: "550 5.1.1 <u@x>: gone", RemoteMTA: "mx.example.net"},
		{Status: OK, DSN: "2.0.0", Text: "250 queued", Relay: "mx[192.0.2.1]:25", DSNPassed: true},
		{Status: OK, DSN: "2.0.0", Text: "250 queued", Relay: "mx[192.0.2.1]:25", Relayed: true},
	}
	got, err := decodeResults(encodeResults(in), 4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("got %+v\nwant %+v", got, in)
	}
}

// TestEncodeResultsCarriesTrace: the destinations of sendmail -bv and -v
// reports reach the queue manager with the result they belong to.
func TestEncodeResultsCarriesTrace(t *testing.T) {
	in := []Result{
		{Status: OK, DSN: "2.0.0", Text: "delivers to mailbox", Relay: "local"},
		{Status: Bounce, DSN: "5.1.1", Text: "unknown user", Relay: "local", Trace: []TraceEntry{
			{Address: "team@example.com", Status: OK, DSN: "2.0.0", Text: "delivers to command: /bin/cat"},
			{Address: "nobody@example.com", Status: Bounce, DSN: "5.1.1", Text: `unknown user: "nobody"`},
		}},
		{Status: OK, DSN: "2.0.0", Text: "x", Relay: "local", Trace: []TraceEntry{
			{Address: "a@remote.example", Status: OK, DSN: "2.0.0", Text: "forwards to a@remote.example"},
		}},
	}
	got, err := decodeResults(encodeResults(in), 3)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Errorf("got %+v\nwant %+v", got, in)
	}
	for _, bad := range []string{"9\x00a\x00ok\x002.0.0\x00t", "x\x00a\x00ok\x002.0.0\x00t", "0\x00a\x00maybe\x002.0.0\x00t", "0\x00short"} {
		rec := encodeResults(in[:1]).Add("trace", bad)
		if _, err := decodeResults(rec, 1); err == nil {
			t.Errorf("trace %q accepted", bad)
		}
	}
}

func TestLogResult(t *testing.T) {
	start := time.Now()
	arrival := start.Add(-1500 * time.Millisecond)
	num := `(0|\d+(\.\d\d?)?)`
	tests := []struct {
		name string
		rc   envelope.Recipient
		res  Result
		want string // regexp after "tern/local[pid]: "
	}{
		{"ok", envelope.Recipient{Address: "joe@example.com", Original: "joe@example.com"},
			Result{Status: OK, DSN: "2.0.0", Text: "delivered to mailbox", Relay: "local"},
			`^QID1: to=<joe@example\.com>, relay=local, delay=` + num + `, delays=1\.5/0/0/` + num + `, dsn=2\.0\.0, status=sent \(delivered to mailbox\)$`},
		{"orig_to", envelope.Recipient{Address: "joe@example.com", Original: "postmaster"},
			Result{Status: OK, DSN: "2.0.0", Text: "delivered to mailbox", Relay: "local"},
			`^QID1: to=<joe@example\.com>, orig_to=<postmaster>, relay=local, `},
		{"orig_to same but case", envelope.Recipient{Address: "joe@example.com", Original: "JOE@example.com"},
			Result{Status: OK, DSN: "2.0.0", Text: "x", Relay: "local"},
			`^QID1: to=<joe@example\.com>, relay=local, `},
		{"defer", envelope.Recipient{Address: "a@b"},
			Result{Status: Defer, DSN: "4.4.1", Text: "connection refused"},
			`^QID1: to=<a@b>, relay=none, delay=` + num + `, delays=1\.5/0/0/` + num + `, dsn=4\.4\.1, status=deferred \(connection refused\)$`},
		{"bounce", envelope.Recipient{Address: "a@b"},
			Result{Status: Bounce, DSN: "5.1.1", Text: "unknown user", Relay: "mx[192.0.2.1]:25"},
			`, relay=mx\[192\.0\.2\.1\]:25, .*, dsn=5\.1\.1, status=bounced \(unknown user\)$`},
		// conn_use was never logged: Postfix logs it for a reused connection.
		{"first use of a connection", envelope.Recipient{Address: "a@b"},
			Result{Status: OK, DSN: "2.0.0", Text: "250 ok", Relay: "mx[192.0.2.1]:25", ConnUse: 1},
			`, relay=mx\[192\.0\.2\.1\]:25, delay=`},
		{"reused connection", envelope.Recipient{Address: "a@b"},
			Result{Status: OK, DSN: "2.0.0", Text: "250 ok", Relay: "mx[192.0.2.1]:25", ConnUse: 3},
			`, relay=mx\[192\.0\.2\.1\]:25, conn_use=3, delay=`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			env := &envelope.Envelope{ID: "QID1", Arrival: arrival}
			LogResult(maillog.NewWriter(&buf, "tern/local"), env, tt.rc, tt.res, start)
			line := strings.TrimSuffix(buf.String(), "\n")
			if strings.Count(buf.String(), "\n") != 1 {
				t.Fatalf("want one line, got %q", buf.String())
			}
			_, msg, ok := strings.Cut(line, "tern/local[")
			if !ok {
				t.Fatalf("no program in %q", line)
			}
			_, msg, _ = strings.Cut(msg, "]: ")
			if !regexp.MustCompile(tt.want).MatchString(msg) {
				t.Errorf("line %q\ndoes not match %s", msg, tt.want)
			}
		})
	}
}

func TestLogResultZeroArrival(t *testing.T) {
	var buf bytes.Buffer
	LogResult(maillog.NewWriter(&buf, "tern/smtp"), &envelope.Envelope{ID: "Q"}, envelope.Recipient{Address: "a@b"},
		Result{Status: OK, DSN: "2.0.0", Text: "ok"}, time.Now())
	if !regexp.MustCompile(`delays=0/0/0/`).MatchString(buf.String()) {
		t.Errorf("zero arrival gave %q", buf.String())
	}
}

func TestSeconds(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{0.004, "0"},
		{0.0099, "0"},
		{0.01, "0.01"},
		{0.032, "0.03"},
		{0.1, "0.1"},
		{1, "1"},
		{1.5, "1.5"},
		{9.99, "9.99"},
		{10, "10"},
		{12.3, "12"},
		{12.7, "13"},
		{4000, "4000"},
	}
	for _, tt := range tests {
		if got := seconds(tt.in); got != tt.want {
			t.Errorf("seconds(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStatusString(t *testing.T) {
	for _, s := range []Status{OK, Defer, Bounce} {
		got, ok := parseStatus(s.String())
		if !ok || got != s {
			t.Errorf("parseStatus(%q) = %v, %v", s.String(), got, ok)
		}
	}
}

func FuzzDecodeResults(f *testing.F) {
	f.Add(ipc.Record{{Name: "result", Value: "ok 2.0.0 delivered"}, {Name: "relay", Value: "local"}}.Encode(nil), 1)
	f.Add(ipc.Record{{Name: "result", Value: "defer"}, {Name: "result", Value: "bounce 5.1.1 no\nsuch"}}.Encode(nil), 2)
	f.Add([]byte("\x06result\x03ok "), 1)
	f.Add([]byte{}, 0)
	f.Add(ipc.Record{{Name: "result", Value: "ok 2.0.0 x"}, {Name: "trace", Value: "0\x00a@b\x00bounce\x005.1.1\x00unknown\nuser"}}.Encode(nil), 1)
	f.Fuzz(func(t *testing.T, payload []byte, n int) {
		rec, err := ipc.DecodeRecord(payload)
		if err != nil {
			return
		}
		if n < 0 || n > 1000 {
			n = len(rec.All("result"))
		}
		got, err := decodeResults(rec, n)
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("%d results for n=%d", len(got), n)
		}
		for _, r := range got {
			if r.Status != OK && r.Status != Defer && r.Status != Bounce {
				t.Fatalf("bad status %v", r.Status)
			}
			if strings.Contains(r.DSN, " ") {
				t.Fatalf("space in DSN %q", r.DSN)
			}
		}
		// What was decoded survives a round trip, newlines aside.
		again, err := decodeResults(encodeResults(got), n)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		for i := range got {
			want := got[i]
			want.Text = strings.ReplaceAll(want.Text, "\n", " ")
			for k := range want.Trace {
				want.Trace[k].Text = strings.ReplaceAll(want.Trace[k].Text, "\n", " ")
			}
			if !reflect.DeepEqual(again[i], want) {
				t.Fatalf("round trip %+v -> %+v", want, again[i])
			}
		}
	})
}

// TestDelaysSplit pins the bug where delays= logged its middle parts as 0:
// the time in the queue manager and the connection setup are measured.
func TestDelaysSplit(t *testing.T) {
	arrival := time.Unix(1000, 0)
	tests := []struct {
		name                       string
		activated, start, now      time.Time
		setup                      time.Duration
		wantA, wantB, wantC, wantD float64
	}{
		{"all parts", arrival.Add(2 * time.Second), arrival.Add(5 * time.Second), arrival.Add(9 * time.Second), 3 * time.Second, 2, 3, 3, 1},
		{"not activated", time.Time{}, arrival.Add(4 * time.Second), arrival.Add(5 * time.Second), 0, 4, 0, 0, 1},
		{"setup beyond the delivery", arrival, arrival, arrival.Add(time.Second), 5 * time.Second, 0, 0, 1, 0},
		{"activation after start", arrival.Add(9 * time.Second), arrival.Add(3 * time.Second), arrival.Add(4 * time.Second), 0, 3, 0, 0, 1},
	}
	for _, tt := range tests {
		env := &envelope.Envelope{Arrival: arrival, Activated: tt.activated}
		a, b, c, d := delays(env, Result{Setup: tt.setup}, tt.start, tt.now)
		if a != tt.wantA || b != tt.wantB || c != tt.wantC || d != tt.wantD {
			t.Errorf("%s: delays = %v/%v/%v/%v, want %v/%v/%v/%v", tt.name, a, b, c, d, tt.wantA, tt.wantB, tt.wantC, tt.wantD)
		}
	}
}
