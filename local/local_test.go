package local

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

type deliverCase struct {
	name   string
	setup  func(fx *fixture)
	sender string
	body   string
	rcpt   string
	status agent.Status
	dsn    string
	text   string
	check  func(t *testing.T, fx *fixture)
}

func runCases(t *testing.T, cases []deliverCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t)
			if tc.setup != nil {
				tc.setup(fx)
			}
			body := tc.body
			if body == "" {
				body = testBody
			}
			res := fx.deliver(tc.sender, body, tc.rcpt)
			expect(t, res[0], tc.status, tc.dsn, tc.text)
			if tc.check != nil {
				tc.check(t, fx)
			}
		})
	}
}

var fromLine = regexp.MustCompile(`^From (\S+)  (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}$`)

func TestDeliverMailbox(t *testing.T) {
	runCases(t, []deliverCase{{
		name: "mbox in spool", sender: "sender@remote.org", rcpt: "alice@example.com",
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: func(t *testing.T, fx *fixture) {
			got := fx.read(filepath.Join(fx.spool, "alice"))
			lines := strings.Split(got, "\n")
			if m := fromLine.FindStringSubmatch(lines[0]); m == nil || m[1] != "sender@remote.org" {
				t.Fatalf("bad From_ line %q", lines[0])
			}
			want := "Return-Path: <sender@remote.org>\nX-Original-To: alice@example.com\nDelivered-To: alice@example.com\n" +
				"From: sender@remote.org\nSubject: hi\n\nline one\n>From the start\n\n"
			if rest := strings.Join(lines[1:], "\n"); rest != want {
				t.Fatalf("mbox content:\n%q\nwant\n%q", rest, want)
			}
			fi, err := os.Stat(filepath.Join(fx.spool, "alice"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("mbox mode %v, %v", fi.Mode(), err)
			}
			if _, err := os.Stat(filepath.Join(fx.spool, "alice.lock")); !os.IsNotExist(err) {
				t.Fatalf("dotlock left behind: %v", err)
			}
		},
	}, {
		name: "null sender and CRLF content", sender: "", rcpt: "bob",
		body:   "Subject: x\r\n\r\nFrom here\r\nno newline",
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: func(t *testing.T, fx *fixture) {
			got := fx.read(filepath.Join(fx.spool, "bob"))
			if !strings.HasPrefix(got, "From MAILER-DAEMON  ") || !strings.Contains(got, "Return-Path: <>\n") {
				t.Fatalf("null sender not shown: %q", got)
			}
			if !strings.HasSuffix(got, "Subject: x\n\n>From here\nno newline\n\n") {
				t.Fatalf("content not normalised: %q", got)
			}
		},
	}, {
		name: "maildir", sender: "s@remote.org", rcpt: "alice@example.com",
		setup:  func(fx *fixture) { fx.cfg.HomeMailbox = "Maildir/" },
		status: agent.OK, dsn: "2.0.0", text: "delivered to maildir",
		check: func(t *testing.T, fx *fixture) {
			md := filepath.Join(fx.home("alice"), "Maildir")
			files, _ := filepath.Glob(filepath.Join(md, "new", "*"))
			if len(files) != 1 {
				t.Fatalf("new/ holds %v", files)
			}
			got := fx.read(files[0])
			if !strings.HasPrefix(got, "Return-Path: <s@remote.org>\n") || !strings.HasSuffix(got, "\nFrom the start\n") {
				t.Fatalf("maildir message %q", got)
			}
			for _, sub := range []string{"cur", "tmp"} {
				ents, err := os.ReadDir(filepath.Join(md, sub))
				if err != nil || len(ents) != 0 {
					t.Fatalf("%s: %v %v", sub, ents, err)
				}
			}
			if fi, _ := os.Stat(filepath.Join(md, "new")); fi.Mode().Perm() != 0o700 {
				t.Fatalf("new/ mode %v", fi.Mode())
			}
		},
	}, {
		name: "mbox under home", rcpt: "alice@EXAMPLE.com",
		setup:  func(fx *fixture) { fx.cfg.HomeMailbox = "Mailbox" },
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: func(t *testing.T, fx *fixture) {
			if n := mboxMessages(fx.read(filepath.Join(fx.home("alice"), "Mailbox"))); n != 1 {
				t.Fatalf("%d messages", n)
			}
		},
	}, {
		name: "extension", rcpt: "Alice+Lists@example.com",
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
		check: func(t *testing.T, fx *fixture) {
			if got := fx.read(filepath.Join(fx.spool, "alice")); !strings.Contains(got, "Delivered-To: Alice+Lists@example.com\n") {
				t.Fatalf("mbox %q", got)
			}
		},
	}, {
		name: "unknown user", rcpt: "nosuchuser+ext@example.com",
		status: agent.Bounce, dsn: "5.1.1", text: `unknown user: "nosuchuser"`,
	}, {
		name: "forwarding loop", rcpt: "alice@example.com",
		body:   "Delivered-To: ALICE@example.com\nSubject: x\n\nbody\n",
		status: agent.Bounce, dsn: "5.4.6", text: "mail forwarding loop for alice@example.com",
	}, {
		name: "Delivered-To in body is no loop", rcpt: "alice@example.com",
		body:   "Subject: x\n\nDelivered-To: alice@example.com\n",
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
	}, {
		name: "non-local domain is forwarded", rcpt: "carol@remote.org", sender: "s@x.org",
		status: agent.OK, dsn: "2.0.0", text: "forwarded as FWD1",
		check: func(t *testing.T, fx *fixture) {
			c := fx.fwd.calls[0]
			if c.sender != "s@x.org" || strings.Join(c.rcpts, ",") != "carol@remote.org" ||
				!strings.HasPrefix(c.content, "Delivered-To: carol@remote.org\nFrom: sender@remote.org\n") {
				t.Fatalf("forward %+v", c)
			}
		},
	}, {
		name: "mailbox_command", rcpt: "bob+x@example.com", sender: "s@x.org",
		setup: func(fx *fixture) {
			fx.cfg.MailboxCommand = `cat > "$HOME/out"; env > "$HOME/env"`
		},
		status: agent.OK, dsn: "2.0.0", text: `delivered to command: cat > "$HOME/out"`,
		check: func(t *testing.T, fx *fixture) {
			out := fx.read(filepath.Join(fx.home("bob"), "out"))
			if !strings.HasPrefix(out, "From s@x.org  ") || !strings.Contains(out, "\nDelivered-To: bob+x@example.com\n") ||
				!strings.HasSuffix(out, "\nFrom the start\n") {
				t.Fatalf("command input %q", out)
			}
			env := fx.read(filepath.Join(fx.home("bob"), "env"))
			for _, want := range []string{"USER=bob", "LOGNAME=bob", "SENDER=s@x.org", "RECIPIENT=bob+x@example.com",
				"EXTENSION=x", "DOMAIN=example.com", "LOCAL=bob+x", "ORIGINAL_RECIPIENT=bob+x@example.com",
				"HOME=" + fx.home("bob"), "PATH=/usr/bin:/bin", "SHELL=/bin/sh"} {
				if !strings.Contains("\n"+env, "\n"+want+"\n") {
					t.Errorf("environment lacks %s:\n%s", want, env)
				}
			}
		},
	}, {
		name: "user lookup error defers", rcpt: "alice",
		setup:  func(fx *fixture) { fx.cfg.Users = errUsers{} },
		status: agent.Defer, dsn: "4.0.0", text: "user lookup error",
	}, {
		name: "missing home defers with require_home_directory", rcpt: "alice",
		setup: func(fx *fixture) {
			fx.users["alice"].Home = filepath.Join(fx.dir, "gone")
			fx.cfg.RequireHomeDirectory = true
		},
		status: agent.Defer, dsn: "4.3.0", text: "cannot access home directory",
	}, {
		// TestMissingHomeDelivers: require_home_directory was an unknown
		// name and tern deferred mail for every account without a home
		// directory (nobody's /nonexistent), where Postfix, by default,
		// delivers it to the spool mailbox.
		name: "missing home delivers to the spool by default", rcpt: "alice",
		setup:  func(fx *fixture) { fx.users["alice"].Home = filepath.Join(fx.dir, "gone") },
		status: agent.OK, dsn: "2.0.0", text: "delivered to mailbox",
	}})
}

type errUsers struct{}

func (errUsers) Lookup(string) (*User, error) { return nil, errors.New("ldap down") }

func TestDeliverMailboxSizeLimit(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.MailboxSizeLimit = 400
	expect(t, fx.deliver("s@x.org", testBody, "alice")[0], agent.OK, "2.0.0", "delivered to mailbox")
	mbox := filepath.Join(fx.spool, "alice")
	before := fx.read(mbox)
	res := fx.deliver("s@x.org", testBody+strings.Repeat("x", 300)+"\n", "alice")
	expect(t, res[0], agent.Bounce, "5.2.2", "cannot update mailbox "+mbox+" for user alice. error writing message: File too large")
	if after := fx.read(mbox); after != before {
		t.Fatalf("mailbox not truncated back: %d -> %d bytes", len(before), len(after))
	}
	fx.cfg.HomeMailbox = "Maildir/"
	res = fx.deliver("s@x.org", testBody+strings.Repeat("x", 500)+"\n", "alice")
	expect(t, res[0], agent.Bounce, "5.2.2", "maildir delivery failed")
	if files, _ := filepath.Glob(filepath.Join(fx.home("alice"), "Maildir", "*", "*")); len(files) != 0 {
		t.Fatalf("left behind %v", files)
	}
}

func TestDeliverDuplicateRecipients(t *testing.T) {
	fx := newFixture(t)
	res := fx.deliver("s@x.org", testBody, "alice@example.com", "ALICE@example.com", "bob")
	for _, r := range res {
		expect(t, r, agent.OK, "2.0.0", "delivered to mailbox")
	}
	if n := mboxMessages(fx.read(filepath.Join(fx.spool, "alice"))); n != 1 {
		t.Fatalf("alice got %d copies", n)
	}
}

func TestDeliverHeldDotlockDefers(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.LockMethods = []string{"dotlock"}
	lock := filepath.Join(fx.spool, "alice.lock")
	fx.write(lock, "", 0o600)
	start := time.Now()
	res := fx.deliver("s@x.org", testBody, "alice")
	expect(t, res[0], agent.Defer, "4.2.0", "unable to create lock file")
	if d := time.Since(start); d < 2*fx.cfg.LockDelay {
		t.Fatalf("gave up after %v without waiting", d)
	}
	if _, err := os.Stat(lock); err != nil {
		t.Fatalf("someone else's lock removed: %v", err)
	}
	// A stale lock is broken.
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lock, old, old); err != nil {
		t.Fatal(err)
	}
	fx.cfg.StaleLockTime = time.Minute
	expect(t, fx.deliver("s@x.org", testBody, "alice")[0], agent.OK, "2.0.0", "delivered to mailbox")
}

func TestDeliverHeldKernelLockDefers(t *testing.T) {
	for _, method := range []string{"fcntl", "flock"} {
		t.Run(method, func(t *testing.T) {
			fx := newFixture(t)
			fx.cfg.LockMethods = []string{method}
			mbox := filepath.Join(fx.spool, "alice")
			fx.write(mbox, "", 0o600)
			f, err := os.OpenFile(mbox, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := kernelLock(t.Context(), f, method, Job{LockAttempts: 1}); err != nil {
				t.Fatal(err)
			}
			expect(t, fx.deliver("s@x.org", testBody, "alice")[0], agent.Defer, "4.2.0", "unable to lock for exclusive access")
			f.Close()
			expect(t, fx.deliver("s@x.org", testBody, "alice")[0], agent.OK, "2.0.0", "delivered to mailbox")
		})
	}
}

func TestDeliverConcurrentMbox(t *testing.T) {
	for _, methods := range [][]string{{"fcntl"}, {"dotlock"}, {"flock"}} {
		t.Run(strings.Join(methods, ","), func(t *testing.T) {
			fx := newFixture(t)
			fx.cfg.LockMethods = methods
			// Up to 30 s: the holder relocks within microseconds of
			// unlocking, so a poller can miss many gaps in a row.
			fx.cfg.LockAttempts = 30000
			fx.cfg.LockDelay = time.Millisecond
			errs := make(chan string, 100)
			for w := 0; w < 2; w++ {
				go func() {
					for i := 0; i < 50; i++ {
						r := fx.deliver("s@x.org", testBody+strings.Repeat("body line\n", 7000), "alice")[0]
						if r.Status != agent.OK {
							errs <- r.Text
							continue
						}
						errs <- ""
					}
				}()
			}
			for i := 0; i < 100; i++ {
				if e := <-errs; e != "" {
					t.Errorf("delivery failed: %s", e)
				}
			}
			got := fx.read(filepath.Join(fx.spool, "alice"))
			msgs := strings.Split(got, "\nFrom s@x.org  ")
			if len(msgs) != 100 || mboxMessages(got) != 100 || !strings.HasSuffix(got, "body line\n\n") {
				t.Fatalf("%d messages in mbox", len(msgs))
			}
			for i, m := range msgs {
				if strings.Count(m, "body line\n") != 7000 || !strings.HasSuffix(strings.TrimRight(m, "\n"), "body line") {
					t.Fatalf("message %d damaged: %q", i, m)
				}
			}
		})
	}
}

// TestDupFilterLimit: duplicate_filter_limit was an unknown name; it now
// bounds what a recipient's expansion remembers, as Postfix's duplicate
// filter: once full, new keys are not remembered, old ones still are.
func TestDupFilterLimit(t *testing.T) {
	for _, tt := range []struct {
		limit int
		keys  []string
		want  []bool // first(key) for each
	}{
		{0, []string{"a", "b", "a", "b"}, []bool{true, true, false, false}},
		{1000, []string{"a", "a"}, []bool{true, false}},
		{1, []string{"a", "b", "b", "a"}, []bool{true, true, true, false}},
	} {
		f := dupFilter{limit: tt.limit, seen: map[string]bool{}}
		for i, k := range tt.keys {
			if got := f.first(k); got != tt.want[i] {
				t.Errorf("limit %d: first(%q) #%d = %v, want %v", tt.limit, k, i, got, tt.want[i])
			}
		}
	}
}
