package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

func withAliases(m memAliases) func(fx *fixture) {
	return func(fx *fixture) { fx.cfg.Aliases = m }
}

func countIn(t *testing.T, fx *fixture, user string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fx.spool, user))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return mboxMessages(string(data))
}

func wantCounts(want map[string]int) func(t *testing.T, fx *fixture) {
	return func(t *testing.T, fx *fixture) {
		t.Helper()
		for user, n := range want {
			if got := countIn(t, fx, user); got != n {
				t.Errorf("%s has %d messages, want %d", user, got, n)
			}
		}
	}
}

func TestDeliverAliases(t *testing.T) {
	runCases(t, []deliverCase{{
		name: "address", rcpt: "postmaster@example.com",
		setup:  withAliases(memAliases{"postmaster": "alice"}),
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: func(t *testing.T, fx *fixture) {
			wantCounts(map[string]int{"alice": 1})(t, fx)
			if got := fx.read(filepath.Join(fx.spool, "alice")); !strings.Contains(got, "Delivered-To: postmaster@example.com\n") {
				t.Fatalf("mbox %q", got)
			}
		},
	}, {
		name: "full local part before base", rcpt: "alice+x@example.com",
		setup:  withAliases(memAliases{"alice+x": "bob", "alice": "nosuch"}),
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"bob": 1, "alice": 0}),
	}, {
		name: "unmatched extension propagates", rcpt: "team+x@example.com",
		setup: func(fx *fixture) {
			fx.cfg.Aliases = memAliases{"team": "carol@remote.org"}
		},
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			if got := fx.fwd.calls[0].rcpts; len(got) != 1 || got[0] != "carol+x@remote.org" {
				t.Fatalf("forwarded to %v", got)
			}
		},
	}, {
		name: "self reference and duplicates", rcpt: "alice@example.com",
		setup:  withAliases(memAliases{"alice": "alice, bob, alice@example.com, \\alice, BOB"}),
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"alice": 1, "bob": 1}),
	}, {
		name: "mutual recursion terminates", rcpt: "a@example.com",
		setup:  withAliases(memAliases{"a": "b", "b": "a, bob"}),
		status: agent.Bounce, dsn: "5.1.1", text: `unknown user: "a"`,
		check: wantCounts(map[string]int{"bob": 1}),
	}, {
		name: "include loop terminates", rcpt: "list@example.com",
		setup: func(fx *fixture) {
			inc := filepath.Join(fx.dir, "inc")
			fx.write(inc, "# members\nbob\n:include:"+inc+"\n", 0o644)
			fx.cfg.Aliases = memAliases{"list": ":include:" + inc}
		},
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			// Postfix forwards the members of :include: files.
			if c := fx.fwd.calls; len(c) != 1 || strings.Join(c[0].rcpts, ",") != "bob@example.com" {
				t.Fatalf("forward calls %+v", c)
			}
		},
	}, {
		name: "deep chain hits nesting limit", rcpt: "l0@example.com",
		setup: func(fx *fixture) {
			m := memAliases{}
			for i := 0; i < 150; i++ {
				m["l"+itoa(i)] = "l" + itoa(i+1)
			}
			fx.cfg.Aliases = m
		},
		status: agent.Bounce, dsn: "5.4.6", text: "recipient nesting limit exceeded",
	}, {
		name: "command", rcpt: "prog@example.com", sender: "s@x.org",
		setup: func(fx *fixture) {
			out := filepath.Join(fx.dir, "prog.out")
			fx.cfg.Aliases = memAliases{"prog": `"|cat > ` + out + `; echo $USER $RECIPIENT >> ` + out + `"`}
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to command: cat > ",
		check: func(t *testing.T, fx *fixture) {
			got := fx.read(filepath.Join(fx.dir, "prog.out"))
			if !strings.HasPrefix(got, "From s@x.org  ") || !strings.HasSuffix(got, "\nFrom the start\nprog prog@example.com\n") {
				t.Fatalf("command got %q", got)
			}
		},
	}, {
		name: "command restricted", rcpt: "prog@example.com",
		setup: func(fx *fixture) {
			fx.cfg.AllowCommands = []string{"forward"}
			fx.cfg.Aliases = memAliases{"prog": "|cat"}
		},
		status: agent.Bounce, dsn: "5.7.1", text: "mail to command is restricted",
	}, {
		name: "command exit 1 bounces", rcpt: "prog",
		setup:  withAliases(memAliases{"prog": `"|echo oops; echo more >&2; exit 1"`}),
		status: agent.Bounce, dsn: "5.3.0", text: `Command died with status 1: "echo oops; echo more >&2; exit 1". Command output: oops more`,
	}, {
		name: "command EX_TEMPFAIL defers", rcpt: "prog",
		setup:  withAliases(memAliases{"prog": `"|echo busy; exit 75"`}),
		status: agent.Defer, dsn: "4.3.0", text: "temporary failure. Command output: busy",
	}, {
		name: "command EX_NOUSER", rcpt: "prog",
		setup:  withAliases(memAliases{"prog": `"|exit 67"`}),
		status: agent.Bounce, dsn: "5.1.1", text: "user unknown",
	}, {
		name: "command killed by signal defers", rcpt: "prog",
		setup:  withAliases(memAliases{"prog": `"|kill -9 $$"`}),
		status: agent.Defer, dsn: "4.3.0", text: "Command died with signal 9",
	}, {
		name: "command time limit", rcpt: "prog",
		setup: func(fx *fixture) {
			fx.cfg.CommandTimeLimit = 2 * time.Second // room for sh to start
			fx.cfg.Aliases = memAliases{"prog": `"|echo start; sleep 30 & sleep 30"`}
		},
		status: agent.Bounce, dsn: "5.3.0", text: `Command time limit exceeded: "echo start; sleep 30 & sleep 30". Command output: start`,
	}, {
		name: "file", rcpt: "archive",
		setup: func(fx *fixture) {
			fx.cfg.Aliases = memAliases{"archive": filepath.Join(fx.dir, "archive.mbox")}
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to file: ",
		check: func(t *testing.T, fx *fixture) {
			got := fx.read(filepath.Join(fx.dir, "archive.mbox"))
			if mboxMessages(got) != 1 || !strings.Contains(got, "\n>From the start\n") {
				t.Fatalf("file got %q", got)
			}
		},
	}, {
		name: "file restricted", rcpt: "archive",
		setup: func(fx *fixture) {
			fx.cfg.AllowFiles = nil
			fx.cfg.Aliases = memAliases{"archive": filepath.Join(fx.dir, "archive.mbox")}
		},
		status: agent.Bounce, dsn: "5.7.1", text: "mail to file is restricted",
	}, {
		name: "maildir file", rcpt: "archive",
		setup: func(fx *fixture) {
			fx.cfg.Aliases = memAliases{"archive": filepath.Join(fx.dir, "md") + "/"}
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to maildir",
		check: func(t *testing.T, fx *fixture) {
			if files, _ := filepath.Glob(filepath.Join(fx.dir, "md", "new", "*")); len(files) != 1 {
				t.Fatalf("maildir holds %v", files)
			}
		},
	}, {
		name: "include of all kinds", rcpt: "list@example.com",
		setup: func(fx *fixture) {
			inc := filepath.Join(fx.dir, "list.inc")
			fx.write(inc, "carol@remote.org, \\alice\n"+filepath.Join(fx.dir, "copy")+"\n", 0o644)
			fx.cfg.AllowFiles = []string{"alias", "include"}
			fx.cfg.Aliases = memAliases{"list": ":include:" + inc}
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox; delivered to file: ",
		check: func(t *testing.T, fx *fixture) {
			wantCounts(map[string]int{"alice": 1})(t, fx)
			if mboxMessages(fx.read(filepath.Join(fx.dir, "copy"))) != 1 || len(fx.fwd.calls) != 1 {
				t.Fatalf("file copy or forward missing: %+v", fx.fwd.calls)
			}
		},
	}, {
		name: "owner alias changes sender", rcpt: "list@example.com", sender: "s@x.org",
		setup:  withAliases(memAliases{"list": "alice, carol@remote.org", "owner-list": "bob"}),
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			c := fx.fwd.calls
			if len(c) != 1 || c[0].sender != "owner-list@example.com" || strings.Join(c[0].rcpts, ",") != "alice@example.com,carol@remote.org" {
				t.Fatalf("forward calls %+v", c)
			}
			if !strings.HasPrefix(c[0].content, "Delivered-To: list@example.com\n") {
				t.Fatalf("content %q", c[0].content)
			}
			wantCounts(map[string]int{"alice": 0})(t, fx)
		},
	}, {
		name: "expand_owner_alias", rcpt: "list", sender: "s@x.org",
		setup: func(fx *fixture) {
			fx.cfg.ExpandOwnerAlias = true
			fx.cfg.Aliases = memAliases{"list": "carol@remote.org", "owner-list": "boss@remote.org"}
		},
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			if c := fx.fwd.calls; c[0].sender != "boss@remote.org" {
				t.Fatalf("sender %q", c[0].sender)
			}
		},
	}, {
		name: "child alias keeps the owner", rcpt: "list", sender: "s@x.org",
		setup:  withAliases(memAliases{"list": "sub", "owner-list": "bob", "sub": "alice"}),
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			if c := fx.fwd.calls; len(c) != 1 || c[0].sender != "owner-list@example.com" || strings.Join(c[0].rcpts, ",") != "alice@example.com" {
				t.Fatalf("forward calls %+v", c)
			}
			wantCounts(map[string]int{"alice": 0})(t, fx)
		},
	}, {
		name: "reset_owner_alias", rcpt: "list", sender: "s@x.org",
		setup: func(fx *fixture) {
			fx.cfg.ResetOwnerAlias = true
			fx.cfg.Aliases = memAliases{"list": "sub", "owner-list": "bob", "sub": "alice"}
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: func(t *testing.T, fx *fixture) {
			if c := fx.fwd.calls; len(c) != 0 {
				t.Fatalf("forward calls %+v, want delivery at once", c)
			}
			wantCounts(map[string]int{"alice": 1})(t, fx)
		},
	}, {
		name: "partial failure bounces the recipient", rcpt: "list",
		setup:  withAliases(memAliases{"list": "alice, nosuch"}),
		status: agent.Bounce, dsn: "5.1.1", text: `unknown user: "nosuch"`,
		check: wantCounts(map[string]int{"alice": 1}),
	}, {
		name: "forward failure defers", rcpt: "list",
		setup: func(fx *fixture) {
			fx.fwd.err = os.ErrDeadlineExceeded
			fx.cfg.Aliases = memAliases{"list": "carol@remote.org"}
		},
		status: agent.Defer, dsn: "4.3.0", text: "cannot forward message",
	}})
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestDeliverDotForward(t *testing.T) {
	runCases(t, []deliverCase{{
		name: "backslash user and remote", rcpt: "alice@example.com", sender: "s@x.org",
		setup: func(fx *fixture) {
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "\\alice, carol@remote.org\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox; forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			wantCounts(map[string]int{"alice": 1})(t, fx)
			c := fx.fwd.calls
			if len(c) != 1 || c[0].sender != "s@x.org" || c[0].rcpts[0] != "carol@remote.org" {
				t.Fatalf("forward %+v", c)
			}
		},
	}, {
		name: "own name delivers to mailbox", rcpt: "alice",
		setup: func(fx *fixture) {
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "alice\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"alice": 1}),
	}, {
		name: "extension file first", rcpt: "alice+lists@example.com",
		setup: func(fx *fixture) {
			fx.write(filepath.Join(fx.home("alice"), ".forward+lists"), "\\bob\n", 0o644)
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "\\alice\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"alice": 0, "bob": 1}),
	}, {
		// forward_expansion_filter: the extension's "*" and "'" become
		// underscores before forward_path is expanded.
		name: "extension characters filtered", rcpt: "alice+a*b'c@example.com",
		setup: func(fx *fixture) {
			fx.write(filepath.Join(fx.home("alice"), ".forward+a_b_c"), "\\bob\n", 0o644)
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "\\alice\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"alice": 0, "bob": 1}),
	}, {
		name: "own filter keeps more", rcpt: "alice+a*b@example.com",
		setup: func(fx *fixture) {
			fx.cfg.ForwardExpansionFilter = DefaultExpansionFilter + "*"
			fx.write(filepath.Join(fx.home("alice"), ".forward+a*b"), "\\bob\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"alice": 0, "bob": 1}),
	}, {
		name: "command and file", rcpt: "alice",
		setup: func(fx *fixture) {
			h := fx.home("alice")
			fx.write(filepath.Join(h, ".forward"), `"|cat > `+h+`/piped", `+h+"/saved\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to command: cat > ",
		check: func(t *testing.T, fx *fixture) {
			h := fx.home("alice")
			if !strings.HasSuffix(fx.read(filepath.Join(h, "piped")), "From the start\n") || mboxMessages(fx.read(filepath.Join(h, "saved"))) != 1 {
				t.Fatal("command or file delivery missing")
			}
		},
	}, {
		name: "command not allowed from forward", rcpt: "alice",
		setup: func(fx *fixture) {
			fx.cfg.AllowCommands = []string{"alias"}
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "|cat\n", 0o644)
		},
		status: agent.Bounce, dsn: "5.7.1", text: "mail to command is restricted",
	}, {
		name: "world-writable forward ignored", rcpt: "alice",
		setup: func(fx *fixture) {
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "carol@remote.org\n", 0o666)
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: wantCounts(map[string]int{"alice": 1}),
	}, {
		name: "symlinked forward ignored", rcpt: "alice",
		setup: func(fx *fixture) {
			target := filepath.Join(fx.dir, "elsewhere")
			fx.write(target, "carol@remote.org\n", 0o644)
			if err := os.Symlink(target, filepath.Join(fx.home("alice"), ".forward")); err != nil {
				t.Fatal(err)
			}
		},
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
	}, {
		name: "alias then forward", rcpt: "postmaster",
		setup: func(fx *fixture) {
			fx.cfg.Aliases = memAliases{"postmaster": "alice"}
			fx.write(filepath.Join(fx.home("alice"), ".forward"), "bob\n", 0o644)
		},
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			if c := fx.fwd.calls; len(c) != 1 || c[0].rcpts[0] != "bob@example.com" {
				t.Fatalf("forward %+v", c)
			}
		},
	}})
}

func TestDeliverAliasLoopViaDeliveredTo(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.Aliases = memAliases{"list": "alice"}
	res := fx.deliver("s@x.org", "Delivered-To: alice@example.com\n\nbody\n", "list@example.com")
	expect(t, res[0], agent.Bounce, "5.4.6", "mail forwarding loop for alice@example.com")
}
