package virtual

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/config"
)

func loadConfig(t *testing.T, mainCF string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.cf"), []byte(mainCF), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigFrom(t *testing.T) {
	c := loadConfig(t, "virtual_mailbox_base = /var/mail/vhosts\n"+
		"virtual_mailbox_maps = proxy:inline:{ a@example.com=example.com/a/ }, inline:{ @example.com=example.com/all/ }\n"+
		"virtual_uid_maps = static:5000\nvirtual_gid_maps = static:5001\nrecipient_delimiter = +\n"+
		"virtual_mailbox_limit = 1000\nvirtual_minimum_uid = 1000\n")
	cfg, closeMaps, err := ConfigFrom(c, "")
	if err != nil {
		t.Fatal(err)
	}
	defer closeMaps()
	if cfg.MailboxBase != "/var/mail/vhosts" || len(cfg.MailboxMaps) != 2 || len(cfg.UIDMaps) != 1 || len(cfg.GIDMaps) != 1 ||
		cfg.RecipientDelimiter != "+" || cfg.MailboxLimit != 1000 || cfg.MinimumUID != 1000 {
		t.Fatalf("config %+v", cfg)
	}
	// Postfix's defaults for the rest.
	if strings.Join(cfg.LockMethods, ",") != "fcntl,dotlock" || cfg.LockAttempts != 20 || cfg.LockDelay != time.Second ||
		cfg.StaleLockTime != 500*time.Second || !cfg.StrictOwnership {
		t.Fatalf("defaults %+v", cfg)
	}
	if v, ok, err := cfg.MailboxMaps[0].Lookup("a@example.com"); !ok || err != nil || v != "example.com/a/" {
		t.Fatalf("proxy: table lookup = %q %v %v", v, ok, err)
	}
}

func TestConfigFromBadTable(t *testing.T) {
	for _, param := range []string{"virtual_mailbox_maps", "virtual_uid_maps", "virtual_gid_maps"} {
		c := loadConfig(t, "virtual_mailbox_base = /v\n"+param+" = nosuchtype:/x\n")
		if _, _, err := ConfigFrom(c, ""); err == nil || !strings.HasPrefix(err.Error(), param+": ") {
			t.Errorf("%s: err = %v", param, err)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		mainCF string
		ok     bool
	}{
		{"", true},
		{"virtual_mailbox_base = /var/mail/vhosts\n", true},
		{"virtual_mailbox_base = var/mail/vhosts\n", false},
		{"virtual_mailbox_base = /var/mail/vhosts\nvirtual_mailbox_maps = nosuchtype:x\n", false},
	} {
		cfg, err := config.Parse("main.cf", strings.NewReader(tt.mainCF))
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(cfg, t.TempDir()); (err == nil) != tt.ok {
			t.Errorf("%q: Check = %v, want ok=%v", tt.mainCF, err, tt.ok)
		}
	}
}
