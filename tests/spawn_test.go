package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// spawnPolicy is a policy server in sh, run by spawn(8) once per
// connection: it refuses blocked@ recipients and lets the rest through,
// for as many requests as the connection carries.
const spawnPolicy = `rcpt=
while IFS= read -r line; do
  case "$line" in
  recipient=*) rcpt="${line#recipient=}" ;;
  "")
    case "$rcpt" in
    blocked@*) echo "action=REJECT spawned policy says no" ;;
    *) echo "action=DUNNO" ;;
    esac
    echo
    rcpt= ;;
  esac
done
`

// TestSpawnedPolicyService: the master.cf entry that Debian's
// postfix-policyd-spf-python (and other policy servers) documents,
//
//	policyd-spf unix - n n - 0 spawn user=policyd-spf argv=/usr/bin/policyd-spf
//
// with policyd-spf_time_limit = 3600 in main.cf, drew "unsupported
// command spawn": the service was not started and every
// check_policy_service request to it failed, deferring all mail. tern's
// spawn now runs the command per connection as the user, and smtpd's
// policy requests reach it.
func TestSpawnedPolicyService(t *testing.T) {
	rcpt := localUser(t)
	runAs := currentUser(t).Username
	if isRoot() {
		runAs = "nobody"
	}
	dir := dovecotDir(t, "tern-spawn-") // a folder that nobody can walk into
	script := filepath.Join(dir, "policy.sh")
	if err := os.WriteFile(script, []byte(spawnPolicy), 0o755); err != nil {
		t.Fatal(err)
	}
	in := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\npolicy-spf unix - n n - 0 spawn\n  user=" + runAs + " argv=/bin/sh " + script + "\n",
		main: []string{"smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_policy_service unix:private/policy-spf",
			"policy-spf_time_limit = 3600", "mynetworks = 192.0.2.0/24", "smtpd_error_sleep_time = 0"},
	})
	if out := in.run("tern", "check"); strings.Contains(out, "spawn") || strings.Contains(out, "policy-spf") {
		t.Errorf("tern check warns about the spawn service:\n%s", out)
	}
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", "blocked@example.tst",
		"--ehlo", "client.remote.tst", "--body", "refused by policy")
	if err == nil || !strings.Contains(out, "554 5.7.1 <blocked@example.tst>: Recipient address rejected: spawned policy says no") {
		t.Errorf("the policy's REJECT did not reach the client: %v\n%s", err, out)
	}
	if _, err := swaks(t, "--server", addr, "--from", "sender@remote.tst", "--to", rcpt+"@example.tst",
		"--ehlo", "client.remote.tst", "--body", "passed the policy"); err != nil {
		t.Fatalf("a recipient the policy lets through was refused: %v", err)
	}
	in.waitMbox(rcpt, "passed the policy")
}
