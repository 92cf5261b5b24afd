package smtpd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommandFilter: smtpd_command_filter was warned about as having no
// effect. A regexp table repairs a broken client's MAIL command (an
// unknown BODY value) before it is parsed; other commands pass as they
// are, and the replacement is logged.
func TestCommandFilter(t *testing.T) {
	table := filepath.Join(t.TempDir(), "command_filter")
	if err := os.WriteFile(table, []byte("/^(MAIL FROM:<[^>]*>) BODY=8BIT$/ $1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "smtpd_command_filter = regexp:"+table)
	c := ts.dial(t)
	c.cmd("EHLO client.example", "250")
	c.cmd("MAIL FROM:<joe@example.org> BODY=8BIT", "250 2.1.0")
	c.cmd("RCPT TO:<postmaster@mail.example.tst> BODY=8BIT", "555")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(ts.log.String(), `replacing command "MAIL FROM:<joe@example.org> BODY=8BIT" with "MAIL FROM:<joe@example.org>"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no replacement in the log:\n%s", ts.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	plain := startServer(t, "")
	c = plain.dial(t)
	c.cmd("EHLO client.example", "250")
	if r := c.cmd("MAIL FROM:<joe@example.org> BODY=8BIT", ""); strings.HasPrefix(r, "250") {
		t.Errorf("without the filter the broken command was accepted: %s", r)
	}
}
