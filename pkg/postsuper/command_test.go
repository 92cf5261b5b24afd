package postsuper

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/ipc"
)

func TestParsePostsuper(t *testing.T) {
	tests := []struct {
		args    []string
		ops     map[Op][]string
		queues  []string
		dir     string
		wantErr string
	}{
		{args: []string{"-d", "ABC"}, ops: map[Op][]string{Delete: {"ABC"}}},
		{args: []string{"-c", "/etc/x", "-d", "ALL", "deferred"}, ops: map[Op][]string{Delete: {"ALL"}}, queues: []string{"deferred"}, dir: "/etc/x"},
		{args: []string{"-d", "-", "-h", "A", "-h", "B", "-H", "C", "-r", "D"},
			ops: map[Op][]string{Delete: {"-"}, Hold: {"A", "B"}, Release: {"C"}, Requeue: {"D"}}},
		{args: []string{"-v", "-d", "A", "hold", "incoming"}, ops: map[Op][]string{Delete: {"A"}}, queues: []string{"hold", "incoming"}},
		{args: []string{"-s"}, ops: map[Op][]string{}},
		{args: nil, wantErr: "usage"},
		{args: []string{"-x"}, wantErr: "usage"},
		{args: []string{"-d"}, wantErr: "usage"},
		{args: []string{"-d", "A", "maildrop"}, wantErr: `unknown queue "maildrop"`},
	}
	for _, tt := range tests {
		var errb bytes.Buffer
		c := &command{prog: "postsuper", stderr: &errb}
		got, err := c.parsePostsuper(tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if !reflect.DeepEqual(got.ops, tt.ops) || fmt.Sprint(got.queues) != fmt.Sprint(tt.queues) || got.configDir != tt.dir {
			t.Errorf("%q: got %+v, want ops %v queues %v dir %q", tt.args, got, tt.ops, tt.queues, tt.dir)
		}
	}
}

func TestParseQueue(t *testing.T) {
	tests := []struct {
		args    []string
		ids     []string
		queues  []string
		wantErr string
	}{
		{args: []string{"ABC", "DEF"}, ids: []string{"ABC", "DEF"}},
		{args: []string{"ALL", "deferred", "hold"}, ids: []string{"ALL"}, queues: []string{"deferred", "hold"}},
		{args: []string{"-c", "/x", "-"}, ids: []string{"-"}},
		{args: []string{"deferred"}, wantErr: "usage"},
		{args: []string{"A", "maildrop"}, wantErr: "unknown queue"},
	}
	for _, tt := range tests {
		c := &command{prog: "tern queue hold", stderr: &bytes.Buffer{}}
		got, err := c.parseQueue(Hold, tt.args)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got.ops[Hold]) != fmt.Sprint(tt.ids) || fmt.Sprint(got.queues) != fmt.Sprint(tt.queues) {
			t.Errorf("%q: got %+v, %v; want ids %v queues %v", tt.args, got, err, tt.ids, tt.queues)
		}
	}
}

func TestExpand(t *testing.T) {
	var errb bytes.Buffer
	c := &command{prog: "postsuper", stdin: strings.NewReader("4jgPXv5SSV000*\n  4jgPXv5Xfw000!  B2\n\nbad/id\n"), stderr: &errb}
	all, ids, err := c.expand([]string{"A1", "-", "all"})
	if err != nil || all {
		t.Fatalf("expand: all %v err %v", all, err)
	}
	// "all" in lower case is not ALL, as a safety measure: it is an id
	// that names no message.
	if want := "[A1 4jgPXv5SSV000 4jgPXv5Xfw000 B2 all]"; fmt.Sprint(ids) != want {
		t.Errorf("ids %v, want %s", ids, want)
	}
	if w := errb.String(); w != "postsuper: warning: invalid mail queue id: \"bad/id\"\n" {
		t.Errorf("warnings %q", w)
	}
	if all, ids, _ := c.expand([]string{"A1", "ALL"}); !all || ids != nil {
		t.Errorf("ALL: all %v ids %v", all, ids)
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{
		"4jgPXv5SSV000": true, "ABC": true, "": false, "a-b": false,
		strings.Repeat("x", 32): true, strings.Repeat("x", 33): false, "4jgPXv5SSV000*": false,
	} {
		if got := ValidID(id); got != want {
			t.Errorf("ValidID(%q) = %v", id, got)
		}
	}
}

// fakeQmgr answers postsuper requests on a socket in dir and records them.
type fakeQmgr struct {
	mu   sync.Mutex
	reqs []ipc.Record
}

func startFakeQmgr(t *testing.T, dir string, reply func(ipc.Record) ipc.Record) *fakeQmgr {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "public"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, QmgrSocket))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeQmgr{}
	testutil.Serve(t, l, func(nc net.Conn) {
		c := ipc.NewConn(nc, requestTimeout)
		req, err := c.Receive(ipc.FrameRequest)
		if err != nil {
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		_ = c.Send(ipc.FrameReply, reply(req))
	})
	return f
}

// countReply finds every id and misses those starting with "X".
func countReply(req ipc.Record) ipc.Record {
	done, missing := 0, 0
	for _, id := range req.All(AttrID) {
		if strings.HasPrefix(id, "X") {
			missing++
		} else {
			done++
		}
	}
	if req.Get(AttrAll) == "yes" {
		done = 7
	}
	return ipc.Record{{Name: AttrStatus, Value: "ok"}, {Name: AttrDone, Value: strconv.Itoa(done)}, {Name: AttrMissing, Value: strconv.Itoa(missing)}}
}

// instance writes a main.cf whose queue_directory is a short temporary
// directory (socket paths are limited) and returns the config directory.
func instance(t *testing.T) (confDir, queueDir string) {
	t.Helper()
	confDir = t.TempDir()
	queueDir, err := os.MkdirTemp("", "psq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(queueDir) })
	if err := os.WriteFile(filepath.Join(confDir, "main.cf"), []byte("queue_directory = "+queueDir+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return confDir, queueDir
}

func TestMainSendsRequestsAndSummarises(t *testing.T) {
	conf, qdir := instance(t)
	f := startFakeQmgr(t, qdir, countReply)
	var in strings.Builder
	for i := range MaxIDs + 5 {
		fmt.Fprintf(&in, "A%d\n", i)
	}
	in.WriteString("X1\n")
	var out, errb bytes.Buffer
	code := Main([]string{"-c", conf, "-d", "-", "-h", "ALL", "deferred"}, strings.NewReader(in.String()), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := fmt.Sprintf("postsuper: Deleted: %d messages\npostsuper: 1 queue id not found in the queues named\npostsuper: Placed on hold: 7 messages\n", MaxIDs+5)
	if errb.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", errb.String(), want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) != 3 {
		t.Fatalf("%d requests, want 3 (two for the ids, one for hold)", len(f.reqs))
	}
	if n := len(f.reqs[0].All(AttrID)); n != MaxIDs {
		t.Errorf("first request has %d ids, want %d", n, MaxIDs)
	}
	last := f.reqs[2]
	if last.Get(AttrRequest) != "hold" || last.Get(AttrAll) != "yes" || fmt.Sprint(last.All(AttrQueue)) != "[deferred]" {
		t.Errorf("hold request %v", last)
	}
}

func TestQueueMainReportsRefusal(t *testing.T) {
	conf, qdir := instance(t)
	startFakeQmgr(t, qdir, func(ipc.Record) ipc.Record {
		return ipc.Record{{Name: AttrStatus, Value: "error"}, {Name: AttrText, Value: "permission denied: only the superuser may change the queue"}}
	})
	var errb bytes.Buffer
	code := QueueMain(Delete, []string{"-c", conf, "ALL"}, strings.NewReader(""), &bytes.Buffer{}, &errb)
	if code != 1 || errb.String() != "tern queue delete: fatal: permission denied: only the superuser may change the queue\n" {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

func TestMainWithoutQmgr(t *testing.T) {
	conf, _ := instance(t)
	var errb bytes.Buffer
	if code := Main([]string{"-c", conf, "-d", "ALL"}, strings.NewReader(""), &bytes.Buffer{}, &errb); code != 1 || !strings.Contains(errb.String(), "is the mail system running?") {
		t.Errorf("exit %d, stderr %q", code, errb.String())
	}
}

// FuzzReadIDs: every id read is valid and was in the input; nothing
// panics.
func FuzzReadIDs(f *testing.F) {
	for _, s := range []string{"", "4jgPXv5SSV000*\n", "A B\tC\n\n!!*\n", "a/b\n" + strings.Repeat("x", 40), "\x00\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c := &command{prog: "postsuper", stdin: strings.NewReader(in), stderr: &bytes.Buffer{}}
		ids, err := c.readIDs(nil)
		if err != nil {
			return // a line over the scanner's limit
		}
		for _, id := range ids {
			if !ValidID(id) || !strings.Contains(in, id) {
				t.Fatalf("id %q from %q", id, in)
			}
		}
	})
}

func TestFilterParts(t *testing.T) {
	in := "*** ENVELOPE RECORDS deferred/Q ***\nsender: a@b\nrecipient: c@d\n" +
		"*** MESSAGE CONTENTS deferred/Q ***\nSubject: s\nX: y\n\nbody 1\n\nbody 2\n" +
		"*** MESSAGE FILE END deferred/Q ***\n"
	tests := []struct {
		parts showParts
		want  string
	}{
		{showParts{}, in},
		{showParts{envelope: true}, "*** ENVELOPE RECORDS deferred/Q ***\nsender: a@b\nrecipient: c@d\n"},
		{showParts{header: true}, "*** MESSAGE CONTENTS deferred/Q ***\nSubject: s\nX: y\n\n*** MESSAGE FILE END deferred/Q ***\n"},
		{showParts{body: true}, "*** MESSAGE CONTENTS deferred/Q ***\nbody 1\n\nbody 2\n*** MESSAGE FILE END deferred/Q ***\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		if err := filterParts(strings.NewReader(in), tt.parts, &out); err != nil || out.String() != tt.want {
			t.Errorf("%+v: %v\n%s\nwant:\n%s", tt.parts, err, out.String(), tt.want)
		}
	}
}

func TestPostcatNeedsQueueIDs(t *testing.T) {
	var errb bytes.Buffer
	if code := PostcatMain([]string{"/var/spool/postfix/deferred/A/ABC"}, &bytes.Buffer{}, &errb); code != 1 || !strings.Contains(errb.String(), "-q") {
		t.Errorf("exit %d, %q", code, errb.String())
	}
}
