package agent

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
)

// StatusFilter is a delivery agent's <agent>_delivery_status_filter
// (default $default_delivery_status_filter): tables that may replace
// the enhanced status code and text of each result. The lookup key is
// "X.Y.Z text", as in Postfix, and so is the value. A success can't be
// turned into a failure, nor the other way round; a failure whose code
// changes class becomes a deferral (4.X.X) or a bounce (5.X.X), so that
// an admin can turn a provider's sudden 5.7.1 blocks into retries.
type StatusFilter struct {
	tables []maps.Map
	log    *maillog.Logger
}

// dsnValue is a filter's value: an enhanced status code and the text.
var dsnValue = regexp.MustCompile(`^([245])\.\d{1,3}\.\d{1,3}(\s+|$)`)

// Apply returns r with its status replaced by the first table's value
// for it, if any.
func (f *StatusFilter) Apply(r Result) Result {
	if f == nil || r.DSN == "" {
		return r
	}
	key := r.DSN + " " + r.Text
	v, found, err := maps.LookupFirst(f.tables, key)
	if err != nil {
		f.log.Warnf("delivery status filter: lookup of %q: %v", key, err)
		return r
	}
	if !found {
		return r
	}
	m := dsnValue.FindStringSubmatch(v)
	if m == nil {
		f.log.Warnf("delivery status filter: %q for %q is not an enhanced status code and text; ignored", v, key)
		return r
	}
	newClass := m[1][0]
	if (newClass == '2') != (r.Status == OK) {
		f.log.Warnf("delivery status filter: %q for %q would turn a %s into a %s; ignored",
			v, key, outcome(r.Status == OK), outcome(newClass == '2'))
		return r
	}
	code, text, _ := strings.Cut(strings.TrimSpace(v), " ")
	r.DSN, r.Text = code, strings.TrimSpace(text)
	switch newClass {
	case '4':
		r.Status = Defer
	case '5':
		r.Status = Bounce
	}
	return r
}

func outcome(success bool) string {
	if success {
		return "success"
	}
	return "failure"
}

// Close releases the tables.
func (f *StatusFilter) Close() {
	if f == nil {
		return
	}
	for _, t := range f.tables {
		_ = t.Close()
	}
}

// OpenStatusFilter opens the tables of spec, the status filter of the
// agent named name (smtp, lmtp, local, virtual, pipe); a nil filter, for
// an empty spec, changes nothing.
func OpenStatusFilter(name, spec string, opt maps.Options, log *maillog.Logger) (*StatusFilter, error) {
	tables, _, err := maps.OpenSpecList(spec, opt)
	if err != nil {
		return nil, fmt.Errorf("%s_delivery_status_filter: %w", name, err)
	}
	if len(tables) == 0 {
		return nil, nil
	}
	return &StatusFilter{tables: tables, log: log}, nil
}

// CheckStatusFilter opens and closes the delivery_status_filter tables
// of the agent named name, so that tern check and start report a bad one
// with the others instead of the agent failing when it starts.
func CheckStatusFilter(cfg *config.Config, configDir, name string) error {
	f, err := OpenStatusFilter(name, cfg.Get(name+"_delivery_status_filter"), maps.Options{ConfigDir: configDir}, nil)
	f.Close()
	return err
}
