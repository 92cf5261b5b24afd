package virtual

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/maps"
)

// bodyMemLimit is the largest message body the agent keeps in memory.
const bodyMemLimit = 1 << 20

// Main is the entry of `tern daemon virtual`.
func Main(args []string) int {
	d, err := daemon.Init("virtual")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/virtual: fatal: %v\n", err)
		return 1
	}
	cfg, closeMaps, err := ConfigFrom(d.Config, d.ConfigDir)
	if err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	defer closeMaps()
	cfg.Log = d.Log
	a, err := New(cfg)
	if err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	return agent.ServeDaemon(d, a, bodyMemLimit)
}

// Check validates the agent's settings for master's start, check and
// reload: the mailbox base and the lookup tables.
func Check(c *config.Config, configDir string) error {
	cfg, closeMaps, err := ConfigFrom(c, configDir)
	if err != nil {
		return err
	}
	defer closeMaps()
	return CheckBase(cfg.MailboxBase)
}

// ConfigFrom builds the agent's Config from main.cf, opening the lookup
// tables of virtual_mailbox_maps, virtual_uid_maps and virtual_gid_maps
// (configDir is where relative table configuration files live). The
// returned function closes the tables.
func ConfigFrom(c *config.Config, configDir string) (Config, func(), error) {
	cfg := Config{
		MailboxBase:        c.Get("virtual_mailbox_base"),
		MinimumUID:         c.Int("virtual_minimum_uid"),
		RecipientDelimiter: c.Get("recipient_delimiter"),
		MailboxLimit:       c.Int64("virtual_mailbox_limit"),
		LockMethods:        c.List("virtual_mailbox_lock"),
		LockAttempts:       c.Int("deliver_lock_attempts"),
		LockDelay:          c.Duration("deliver_lock_delay"),
		StaleLockTime:      c.Duration("stale_lock_time"),
		StrictOwnership:    c.Bool("strict_mailbox_ownership"),
	}
	if configDir == "" && c.File() != "" {
		configDir = filepath.Dir(c.File())
	}
	var opened [][]maps.Map
	closer := func() {
		for _, ms := range opened {
			maps.CloseAll(ms)
		}
	}
	for _, t := range []struct {
		param string
		dst   *[]maps.Map
	}{
		{"virtual_mailbox_maps", &cfg.MailboxMaps},
		{"virtual_uid_maps", &cfg.UIDMaps},
		{"virtual_gid_maps", &cfg.GIDMaps},
	} {
		ms, err := openMaps(c.Get(t.param), configDir)
		if err != nil {
			closer()
			return Config{}, nil, fmt.Errorf("%s: %w", t.param, err)
		}
		opened = append(opened, ms)
		*t.dst = ms
	}
	return cfg, closer, nil
}

// openMaps opens a table list, reporting the tables it skips on stderr.
// As in Postfix's virtual(8), a "proxy:" prefix is ignored and the table
// opened directly.
func openMaps(list, configDir string) ([]maps.Map, error) {
	specs, err := maps.SplitSpecs(list)
	if err != nil {
		return nil, err
	}
	for i, s := range specs {
		specs[i] = strings.TrimPrefix(strings.TrimSpace(s), "proxy:")
	}
	ms, warns, err := maps.OpenList(specs, maps.Options{ConfigDir: configDir})
	for _, w := range warns {
		fmt.Fprintf(os.Stderr, "tern/virtual: warning: %s\n", w)
	}
	return ms, err
}
