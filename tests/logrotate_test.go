package tests

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogrotate: postfix logrotate had no tern equivalent, and
// maillog_file_compressor was an unknown name. tern logrotate renames
// the log, reloads the running system so that every daemon writes to a
// new file, and compresses the old one only once no process has it open:
// lines logged before the rotation are in the archive, later ones in the
// new file, and none is lost between.
func TestLogrotate(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{main: []string{"maillog_file_rotate_suffix = %Y%m%d-%H%M%S.old"}})
	in.start()
	if code, out := in.sendmail("Subject: before\n\nbefore\n", rcpt); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, deliveryTimeout, "the first delivery", func() bool { return strings.Contains(in.mbox(rcpt), "Subject: before") })
	in.waitLog("status=sent", deliveryTimeout)
	out := in.run("tern", "logrotate")
	if !strings.Contains(out, "compressed with gzip") {
		t.Errorf("logrotate said %q", out)
	}
	archives, _ := filepath.Glob(in.logFile + ".*.old.gz")
	if len(archives) != 1 {
		t.Fatalf("archives %v", archives)
	}
	old := gunzip(t, archives[0])
	for _, want := range []string{"daemon started", "status=sent"} {
		if !strings.Contains(old, want) {
			t.Errorf("the archive lacks %q:\n%s", want, old)
		}
	}
	if code, out := in.sendmail("Subject: after\n\nafter\n", rcpt); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	waitFor(t, deliveryTimeout, "the second delivery", func() bool { return strings.Contains(in.mbox(rcpt), "Subject: after") })
	in.waitLog("status=sent", deliveryTimeout)
	// Each delivery is logged once, the first in the archive, the second
	// in the new file.
	if n := strings.Count(in.log(), "status=sent"); n != 1 {
		t.Errorf("the new log has %d deliveries, want 1:\n%s", n, in.log())
	}
	if n := strings.Count(old, "status=sent"); n != 1 {
		t.Errorf("the archive has %d deliveries, want 1:\n%s", n, old)
	}
}

// gunzip returns the content of a gzip file.
func gunzip(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
