package daemon

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
)

func TestRsplit3(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"cleanup:unix:0", []string{"cleanup", "unix", "0"}},
		{"pickup:unix:60", []string{"pickup", "unix", "60"}},
		{"127.0.0.1:25:inet:0", []string{"127.0.0.1:25", "inet", "0"}},
		{"[::1]:587:inet:0", []string{"[::1]:587", "inet", "0"}},
		{"::", []string{"", "", ""}},
		{"name::", []string{"name", "", ""}},
		{"a:b", nil},
		{"plain", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := rsplit3(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("rsplit3(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestApplyOverrides(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   map[string]string
	}{
		{"empty", "", "", nil},
		{"one", "smtpd_banner=hi there", "", map[string]string{"smtpd_banner": "hi there"}},
		{"several trimmed", "hopcount_limit = 7\nmyhostname=mx.example.com",
			"", map[string]string{"hopcount_limit": "7", "myhostname": "mx.example.com"}},
		{"value with =", "smtpd_banner=a=b", "", map[string]string{"smtpd_banner": "a=b"}},
		{"missing =", "hopcount_limit", "missing '='", nil},
		{"bad value", "hopcount_limit=lots", "master.cf override hopcount_limit", nil},
		{"bad time", "minimal_backoff_time=soon", "minimal_backoff_time", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Defaults()
			before := cfg.Get("hopcount_limit")
			err := applyOverrides(cfg, tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if got := cfg.Get("hopcount_limit"); got != before {
					t.Errorf("bad override changed hopcount_limit to %q", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			for k, v := range tt.check {
				if got := cfg.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestServiceSocket(t *testing.T) {
	tests := []struct {
		name    string
		private bool
		public  bool
		want    string
	}{
		{"private wins", true, true, "private"},
		{"public fallback", false, true, "public"},
		{"neither", false, false, "private"},
		{"private only", true, false, "private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for sub, present := range map[string]bool{"private": tt.private, "public": tt.public} {
				if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
					t.Fatal(err)
				}
				if present {
					if err := os.WriteFile(filepath.Join(dir, sub, "cleanup"), nil, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			want := filepath.Join(dir, tt.want, "cleanup")
			if got := ServiceSocket(dir, "cleanup"); got != want {
				t.Errorf("ServiceSocket = %q, want %q", got, want)
			}
		})
	}
}

func TestDaemonListener(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := &Daemon{Listeners: []Listener{{Name: "cleanup", Type: "unix", Listener: l}}}
	if got := d.Listener("cleanup"); got != l {
		t.Errorf("Listener(cleanup) = %v", got)
	}
	if got := d.Listener("pickup"); got != nil {
		t.Errorf("Listener(pickup) = %v, want nil", got)
	}
}

func TestInheritEmptyAndBad(t *testing.T) {
	if ls, err := inherit(""); err != nil || ls != nil {
		t.Errorf("inherit(\"\") = %v, %v", ls, err)
	}
	if _, err := inherit("nocolons"); err == nil || !strings.Contains(err.Error(), EnvListeners) {
		t.Errorf("inherit(bad) err = %v", err)
	}
}

func TestDropPrivilegesNothingAsked(t *testing.T) {
	if err := dropPrivileges("", ""); err != nil {
		t.Errorf("dropPrivileges with nothing to do: %v", err)
	}
}
