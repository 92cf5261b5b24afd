package qmgr

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/dsn"
)

// timeUnits are the suffixes by which a bounce template names a time
// parameter in a unit, as Postfix's delay_warning_time_hours.
var timeUnits = []struct {
	suffix string
	unit   time.Duration
}{{"_seconds", time.Second}, {"_minutes", time.Minute}, {"_hours", time.Hour},
	{"_days", 24 * time.Hour}, {"_weeks", 7 * 24 * time.Hour}}

// loadTemplates reads bounce_template_file; nil when it is not set.
func loadTemplates(cfg *config.Config) (dsn.Templates, error) {
	path := strings.TrimSpace(cfg.Get("bounce_template_file"))
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bounce_template_file: %w", err)
	}
	defer f.Close()
	return dsn.ParseTemplates(f, path, templateLookup(cfg))
}

// templateLookup resolves the $names of bounce templates: main.cf
// parameters (known to tern or set in main.cf), and time parameters in a
// unit (maximal_queue_lifetime_days, delay_warning_time_hours, ...),
// rounded down.
func templateLookup(cfg *config.Config) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if _, known := config.Lookup(name); known {
			return cfg.Get(name), true
		}
		if _, set := cfg.Raw(name); set {
			return cfg.Get(name), true
		}
		for _, u := range timeUnits {
			base, ok := strings.CutSuffix(name, u.suffix)
			if !ok {
				continue
			}
			if p, known := config.Lookup(base); known && strings.HasPrefix(p.Type, "time") {
				return strconv.FormatInt(int64(cfg.Duration(base)/u.unit), 10), true
			}
		}
		return "", false
	}
}

// Check reads what qmgr reads at start that main.cf's own checks do not
// cover (bounce_template_file, the character sets of
// message_reject_characters and message_strip_characters), for tern
// check.
func Check(cfg *config.Config, _ string) error {
	if err := loadCharSets(cfg, &settings{}); err != nil {
		return err
	}
	_, err := loadTemplates(cfg)
	return err
}
