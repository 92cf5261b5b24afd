package master

import (
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

// TestMasterServiceDisable: master_service_disable was an unknown name
// and every master.cf entry was started. Entries it names are now left
// out, with Postfix's patterns.
func TestMasterServiceDisable(t *testing.T) {
	services := []config.Service{
		{Name: "smtp", Type: "inet"}, {Name: "submission", Type: "inet"},
		{Name: "cleanup", Type: "unix"}, {Name: "pickup", Type: "unix"},
	}
	tests := []struct {
		patterns []string
		want     string // the names kept
	}{
		{nil, "smtp submission cleanup pickup"},
		{[]string{"inet"}, "cleanup pickup"},
		{[]string{"smtp/inet"}, "submission cleanup pickup"},
		{[]string{"!smtp/inet", "inet"}, "smtp cleanup pickup"},
		{[]string{"INET"}, "cleanup pickup"},
		{[]string{"smtp/unix"}, "smtp submission cleanup pickup"},
	}
	for _, tt := range tests {
		var got []string
		for _, s := range enabledServices(services, tt.patterns) {
			got = append(got, s.Name)
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%q: kept %q, want %q", tt.patterns, got, tt.want)
		}
	}
	if _, err := config.Parse("main.cf", strings.NewReader("master_service_disable = smtp/tcp\n")); err == nil ||
		!strings.Contains(err.Error(), "main.cf:1:") {
		t.Errorf("a bad type: %v", err)
	}
}
