package local

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
)

// helperEnv makes the test binary act as the delivery helper.
const helperEnv = "TERN_LOCAL_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(HelperMain(os.Stdin, os.Stdout))
	}
	os.Exit(m.Run())
}

type fakeUsers map[string]*User

func (f fakeUsers) Lookup(name string) (*User, error) {
	if u, ok := f[name]; ok {
		c := *u
		return &c, nil
	}
	return nil, ErrNoUser
}

type memAliases map[string]string

func (m memAliases) Lookup(key string) (string, bool, error) {
	v, ok := m[key]
	return v, ok, nil
}

type fwdCall struct {
	sender  string
	rcpts   []string
	content string
}

type fakeForwarder struct {
	mu    sync.Mutex
	calls []fwdCall
	err   error
}

func (f *fakeForwarder) Forward(_ context.Context, _ *envelope.Envelope, sender string, rcpts []string, content io.Reader) (string, error) {
	data, err := io.ReadAll(content)
	if err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.calls = append(f.calls, fwdCall{sender: sender, rcpts: append([]string(nil), rcpts...), content: string(data)})
	return fmt.Sprintf("FWD%d", len(f.calls)), nil
}

// testLogger records log lines.
type testLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLogger) Infof(f string, a ...any) { l.add("info: "+f, a) }
func (l *testLogger) Warnf(f string, a ...any) { l.add("warning: "+f, a) }
func (l *testLogger) add(f string, a []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(f, a...))
}

// fixture is a test agent with a spool, users alice, bob and nobody with
// homes in a temporary directory, and a fake forwarder.
type fixture struct {
	t     *testing.T
	dir   string
	spool string
	users fakeUsers
	fwd   *fakeForwarder
	log   *testLogger
	cfg   Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	fx := &fixture{t: t, dir: dir, spool: filepath.Join(dir, "spool"), users: fakeUsers{}, fwd: &fakeForwarder{}, log: &testLogger{}}
	if err := os.Mkdir(fx.spool, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "nobody"} {
		home := filepath.Join(dir, "home", name)
		if err := os.MkdirAll(home, 0o755); err != nil {
			t.Fatal(err)
		}
		fx.users[name] = &User{Name: name, Home: home, Shell: "/bin/sh", UID: os.Getuid(), GID: os.Getgid()}
	}
	fx.cfg = Config{
		MyHostname: "mail.example.com", MyOrigin: "example.com",
		MyDestination:       []string{"example.com", "localhost"},
		RecipientDelimiter:  "+",
		MailSpoolDirectory:  fx.spool,
		ForwardPath:         []string{"$home/.forward${recipient_delimiter}${extension}", "$home/.forward"},
		AllowCommands:       []string{"alias", "forward"},
		AllowFiles:          []string{"alias", "forward"},
		DefaultPrivs:        "nobody",
		CommandTimeLimit:    10 * time.Second,
		OwnerRequestSpecial: true,
		LockMethods:         []string{"fcntl", "dotlock"},
		LockAttempts:        3,
		LockDelay:           10 * time.Millisecond,
		Forward:             fx.fwd,
		Users:               fx.users,
		Log:                 fx.log,
	}
	return fx
}

func (fx *fixture) home(user string) string { return fx.users[user].Home }

func (fx *fixture) write(path, content string, mode os.FileMode) {
	fx.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		fx.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		fx.t.Fatal(err)
	}
}

func (fx *fixture) read(path string) string {
	fx.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		fx.t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

const testBody = "From: sender@remote.org\nSubject: hi\n\nline one\nFrom the start\n"

// deliver runs one request through a fresh agent built from fx.cfg.
func (fx *fixture) deliver(sender, body string, rcpts ...string) []agent.Result {
	fx.t.Helper()
	req := &agent.Request{
		Env:       &envelope.Envelope{ID: "TESTQID", Sender: sender},
		Transport: "local",
		Body:      agent.NewMemBody([]byte(body)),
	}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, envelope.Recipient{Address: r, Original: r})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := New(fx.cfg).Deliver(ctx, req)
	if len(res) != len(rcpts) {
		fx.t.Fatalf("%d results for %d recipients", len(res), len(rcpts))
	}
	return res
}

func expect(t *testing.T, got agent.Result, status agent.Status, dsn, textPart string) {
	t.Helper()
	if got.Status != status || got.DSN != dsn || !strings.Contains(got.Text, textPart) || got.Relay != "local" {
		t.Fatalf("result = %+v, want %v %s containing %q, relay local", got, status, dsn, textPart)
	}
}

// mboxMessages counts the messages in an mbox (lines starting "From ").
func mboxMessages(s string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "From ") {
			n++
		}
	}
	return n
}

func TestExportedEnv(t *testing.T) {
	env := map[string]string{"TZ": "UTC", "LANG": "de_DE.UTF-8"}
	got := exportedEnv([]string{"TZ", "MAIL_CONFIG", "LANG", "FOO=bar"}, func(k string) string { return env[k] })
	want := []string{"TZ=UTC", "LANG=de_DE.UTF-8", "FOO=bar"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("exportedEnv = %q, want %q", got, want)
	}
}
