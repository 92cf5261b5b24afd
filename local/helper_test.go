package local

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
)

// testSpawner is an ExecSpawner that re-executes the test binary, whose
// TestMain turns into HelperMain.
func testSpawner() ExecSpawner {
	return ExecSpawner{Path: os.Args[0], Args: []string{"-test.run=^$"}, Env: []string{helperEnv + "=1"}}
}

func TestHelperRoundTrip(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.Helper = testSpawner()
	if os.Geteuid() == 0 {
		// As root the helper really drops privileges: alias commands run
		// as default_privs, which must not be root.
		fx.users["nobody"].UID, fx.users["nobody"].GID = 65534, 65534
		for _, d := range []string{fx.dir, filepath.Dir(fx.dir)} {
			if err := os.Chmod(d, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		// The go build directory is private to root: run a copy.
		exe, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		sp := testSpawner()
		sp.Path = filepath.Join(fx.dir, "helper")
		if err := os.WriteFile(sp.Path, exe, 0o755); err != nil {
			t.Fatal(err)
		}
		fx.cfg.Helper = sp
	}
	fx.cfg.Aliases = memAliases{"prog": `"|cat > ` + filepath.Join(fx.dir, "out") + `"`, "fail": "|exit 1"}
	res := fx.deliver("s@x.org", testBody, "alice", "prog", "fail")
	expect(t, res[0], agent.OK, "2.0.0", "delivered to mailbox")
	expect(t, res[1], agent.OK, "2.0.0", "delivered to command: cat")
	expect(t, res[2], agent.Bounce, "5.3.0", `Command died with status 1: "exit 1"`)
	if n := mboxMessages(fx.read(filepath.Join(fx.spool, "alice"))); n != 1 {
		t.Fatalf("%d messages", n)
	}
	if got := fx.read(filepath.Join(fx.dir, "out")); !strings.HasSuffix(got, "\nFrom the start\n") {
		t.Fatalf("command input %q", got)
	}
	fi, err := os.Stat(filepath.Join(fx.dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; int(uid) != fx.users["nobody"].UID {
		t.Fatalf("command ran as uid %d, not default_privs %d", uid, fx.users["nobody"].UID)
	}
}

func TestHelperFailures(t *testing.T) {
	body := agent.NewMemBody([]byte("x\n"))
	tests := []struct {
		name     string
		spawner  ExecSpawner
		uid, gid int
	}{
		{"no such binary", ExecSpawner{Path: "/nonexistent/helper"}, os.Geteuid(), os.Getegid()},
		{"binary writes no result", ExecSpawner{Path: "/bin/true"}, os.Geteuid(), os.Getegid()},
	}
	if os.Geteuid() != 0 {
		tests = append(tests, struct {
			name     string
			spawner  ExecSpawner
			uid, gid int
		}{"other uid without root", testSpawner(), os.Geteuid() + 1, os.Getegid()})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.spawner.Run(context.Background(), Job{Kind: KindCommand, Command: "true"}, tc.uid, tc.gid, body); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestHelperMainProtocol(t *testing.T) {
	dir := t.TempDir()
	job := Job{Kind: KindMbox, Path: filepath.Join(dir, "mbox"), User: "u", Sender: "s@x", OwnerUID: -1, Prepend: "X-Test: 1\n"}
	line, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		input  string
		status agent.Status
		text   string
	}{
		{"good job", string(line) + "\nSubject: x\n\nbody\n", agent.OK, "delivered to mailbox"},
		{"bad json", "{nope\nbody", agent.Defer, "bad job"},
		{"no newline", string(line), agent.Defer, "bad job"},
		{"unknown kind", `{"Kind":"tape"}` + "\n", agent.Defer, "unknown delivery job kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := HelperMain(strings.NewReader(tc.input), &out); code != 0 {
				t.Fatalf("exit %d", code)
			}
			var res agent.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("output %q: %v", out.String(), err)
			}
			if res.Status != tc.status || !strings.Contains(res.Text, tc.text) {
				t.Fatalf("result %+v", res)
			}
		})
	}
}
