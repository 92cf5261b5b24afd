package tests

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestMynetworksPatternFilesAndTables: mynetworks takes Postfix's match
// list forms, not only addresses: a cidr: table, a /file/name whose
// "!address" excludes a client before a network includes it, and a table
// that can't be searched defers (451) rather than refusing the relay.
func TestMynetworksPatternFilesAndTables(t *testing.T) {
	dir := readableTempDir(t)
	cidr := filepath.Join(dir, "trusted.cidr")
	file := filepath.Join(dir, "mynetworks")
	writeFile(t, cidr, "# the office\n127.0.0.0/8 trusted\n")
	writeFile(t, file, "# everything on loopback but this host\n!127.0.0.1\n127.0.0.0/8\n")
	for _, tc := range []struct {
		name, mynetworks, want string
	}{
		{"cidr_table", "192.0.2.0/24, cidr:" + cidr, "250 2.1.5 Ok"},
		{"pattern_file_exclusion", file, "454 4.7.1 <victim@elsewhere.tst>: Relay access denied"},
		{"table_down", "192.0.2.0/24 fail:down", "451 4.3.0 <mynetworks>: Temporary lookup failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := smtpdInstance(t, "mynetworks = "+tc.mynetworks)
			out, _ := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "user@remote.tst",
				"--to", "victim@elsewhere.tst", "--quit-after", "RCPT")
			if !strings.Contains(out, tc.want) {
				t.Fatalf("RCPT to a remote domain with mynetworks = %s: want %q\n%s", tc.mynetworks, tc.want, out)
			}
		})
	}
}
