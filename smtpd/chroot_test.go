package smtpd

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

// TestAdoptQueueDirRebasesSockets: in a chroot (Debian's master.cf)
// queue_directory becomes "/" after start-up, but the sockets named
// relative to it had been made absolute before: check_policy_service
// unix:private/policy, a unix: milter such as Debian's
// unix:opendkim/opendkim.sock, and the cleanup socket of
// reject_unverified_*. They now follow queue_directory.
func TestAdoptQueueDirRebasesSockets(t *testing.T) {
	dir := t.TempDir()
	queue := filepath.Join(dir, "queue")
	if err := os.MkdirAll(queue, 0o755); err != nil {
		t.Fatal(err)
	}
	mainCf := "queue_directory = " + queue + "\nsmtpd_milters = unix:opendkim/opendkim.sock\n" +
		"alias_maps =\nlocal_recipient_maps =\nsmtpd_peername_lookup = no\n"
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCf), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(cfg, dir, maillog.NewWriter(io.Discard, "tern/smtpd"))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if got := srv.milters[0].Address(); got != filepath.Join(queue, "opendkim/opendkim.sock") {
		t.Fatalf("milter before the chroot: %q", got)
	}
	if err := cfg.Set("queue_directory", "/"); err != nil { // as daemon.Init does in a chroot
		t.Fatal(err)
	}
	srv.adoptQueueDir(cfg)
	if got := srv.milters[0].Address(); got != "/opendkim/opendkim.sock" {
		t.Errorf("milter in the chroot: %q, want /opendkim/opendkim.sock", got)
	}
	if srv.policy.queueDir != "/" {
		t.Errorf("policy client queue directory %q, want /", srv.policy.queueDir)
	}
	if srv.verify.socket != "/private/cleanup" {
		t.Errorf("verify socket %q, want /private/cleanup", srv.verify.socket)
	}
}
