package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
)

// TestStatusFilter: delivery_status_filter replaces a result's code and
// text, turning a failure into a deferral or a bounce by its new class,
// and refuses to turn a success into a failure or the other way round.
func TestStatusFilter(t *testing.T) {
	table := filepath.Join(t.TempDir(), "dsn_filter")
	if err := os.WriteFile(table, []byte(`/^5\.7\.1 (.*blocked.*)$/ 4.7.1 $1
/^4\.4\.1 (.*)$/ 5.4.1 gave up: $1
/^2\.0\.0 Ok$/ 5.0.0 no
/^5\.1\.1 (.*)$/ whatever $1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &testutil.SyncBuffer{}
	f, err := OpenStatusFilter("smtp", "regexp:"+table, maps.Options{}, maillog.NewWriter(log, "smtp"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, tt := range []struct {
		in, want Result
		warn     string
	}{
		{Bouncef("5.7.1", "host mx said: 550 5.7.1 you are blocked"), Deferf("4.7.1", "host mx said: 550 5.7.1 you are blocked"), ""},
		{Deferf("4.4.1", "connect to mx: refused"), Bouncef("5.4.1", "gave up: connect to mx: refused"), ""},
		{Bouncef("5.2.2", "mailbox full"), Bouncef("5.2.2", "mailbox full"), ""},
		{Result{Status: OK, DSN: "2.0.0", Text: "Ok"}, Result{Status: OK, DSN: "2.0.0", Text: "Ok"}, "would turn a success into a failure"},
		{Bouncef("5.1.1", "user unknown"), Bouncef("5.1.1", "user unknown"), "is not an enhanced status code and text"},
	} {
		got := f.Apply(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Apply(%+v) = %+v, want %+v", tt.in, got, tt.want)
		}
		if tt.warn != "" && !strings.Contains(log.String(), tt.warn) {
			t.Errorf("no warning %q:\n%s", tt.warn, log)
		}
	}
	var none *StatusFilter
	if r := none.Apply(Bouncef("5.7.1", "blocked")); r.Status != Bounce {
		t.Errorf("a nil filter changed %+v", r)
	}
}
