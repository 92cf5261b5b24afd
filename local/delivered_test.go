package local

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
)

// TestPrependDeliveredHeader: prepend_delivered_header was a known name
// that nothing read, so every delivery got Delivered-To whatever it said.
// Now only the contexts it names (command, file, forward) get the
// header; mailbox and Maildir deliveries are "file".
func TestPrependDeliveredHeader(t *testing.T) {
	tests := []struct {
		words                  []string
		mailbox, cmd, forwards bool // whether each gets Delivered-To
	}{
		{[]string{"command", "file", "forward"}, true, true, true},
		{[]string{"forward"}, false, false, true},
		{[]string{"file"}, true, false, false},
		{nil, false, false, false},
	}
	for _, tt := range tests {
		fx := newFixture(t)
		omit, err := deliveredToOmitted(tt.words)
		if err != nil {
			t.Fatal(err)
		}
		fx.cfg.NoDeliveredTo = omit
		out := filepath.Join(fx.dir, "piped")
		fx.cfg.MailboxCommand = "cat > " + out
		fx.cfg.Aliases = memAliases{"fwd": "carol@remote.org"}
		res := fx.deliver("s@remote.org", testBody, "bob@example.com", "fwd@example.com")
		expect(t, res[0], agent.OK, "2.0.0", "delivered to command")
		expect(t, res[1], agent.OK, "2.0.0", "forwarded")
		fx.cfg.MailboxCommand = ""
		res = fx.deliver("s@remote.org", testBody, "alice@example.com")
		expect(t, res[0], agent.OK, "2.0.0", "delivered to mailbox")
		has := func(s, who string) bool { return strings.Contains(s, "Delivered-To: "+who+"\n") }
		if got := has(fx.read(filepath.Join(fx.spool, "alice")), "alice@example.com"); got != tt.mailbox {
			t.Errorf("%v: mailbox has Delivered-To: %v", tt.words, got)
		}
		if got := has(fx.read(out), "bob@example.com"); got != tt.cmd {
			t.Errorf("%v: command input has Delivered-To: %v", tt.words, got)
		}
		if got := has(fx.fwd.calls[0].content, "fwd@example.com"); got != tt.forwards {
			t.Errorf("%v: forwarded message has Delivered-To: %v", tt.words, got)
		}
	}
	if _, err := deliveredToOmitted([]string{"file", "mailbox"}); err == nil || !strings.Contains(err.Error(), `"mailbox"`) {
		t.Errorf("an unknown word: %v, want an error naming it", err)
	}
}

// TestLocalCommandShell: local_command_shell was a known name that
// nothing read; commands now run through it, the command line its last
// argument, as with Postfix's "local_command_shell = /usr/sbin/smrsh -c".
func TestLocalCommandShell(t *testing.T) {
	fx := newFixture(t)
	args := filepath.Join(fx.dir, "args")
	shell := filepath.Join(fx.dir, "wrap")
	fx.write(shell, "#!/bin/sh\nprintf '%s|' \"$@\" > "+args+"\nexec /bin/sh -c \"$2\"\n", 0o755)
	fx.cfg.CommandShell = []string{shell, "-c"}
	out := filepath.Join(fx.dir, "piped")
	fx.cfg.MailboxCommand = "cat > " + out
	res := fx.deliver("s@remote.org", testBody, "bob@example.com")
	expect(t, res[0], agent.OK, "2.0.0", "delivered to command")
	if got := fx.read(args); got != "-c|cat > "+out+"|" {
		t.Errorf("shell arguments %q", got)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the command did not run: %v", err)
	}
}

// TestCommandExecutionDirectory: command_execution_directory was a known
// name that nothing read. Commands now run there, its $names expanded per
// recipient; a directory that does not exist defers the delivery.
func TestCommandExecutionDirectory(t *testing.T) {
	fx := newFixture(t)
	work := filepath.Join(fx.dir, "work", "bob")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	fx.cfg.CommandDir = filepath.Join(fx.dir, "work", "$user")
	fx.cfg.MailboxCommand = "pwd > " + filepath.Join(fx.dir, "cwd") + "; cat > /dev/null"
	res := fx.deliver("s@remote.org", testBody, "bob@example.com")
	expect(t, res[0], agent.OK, "2.0.0", "delivered to command")
	if got := strings.TrimSpace(fx.read(filepath.Join(fx.dir, "cwd"))); got != work {
		t.Errorf("command ran in %q, want %q", got, work)
	}
	res = fx.deliver("s@remote.org", testBody, "alice@example.com")
	expect(t, res[0], agent.Defer, "4.3.0", "unable to change to command_execution_directory")

	// execution_directory_expansion_filter: the extension's "*" becomes
	// an underscore in $extension.
	fx.cfg.CommandDir = filepath.Join(fx.dir, "work", "bob${extension}")
	filtered := filepath.Join(fx.dir, "work", "bob_x")
	if err := os.MkdirAll(filtered, 0o755); err != nil {
		t.Fatal(err)
	}
	res = fx.deliver("s@remote.org", testBody, "bob+*x@example.com")
	expect(t, res[0], agent.OK, "2.0.0", "delivered to command")
	if got := strings.TrimSpace(fx.read(filepath.Join(fx.dir, "cwd"))); got != filtered {
		t.Errorf("command ran in %q, want %q", got, filtered)
	}
}
