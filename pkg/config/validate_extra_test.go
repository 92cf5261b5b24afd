package config

import (
	"strings"
	"testing"
)

// TestMaillogFilePrefixes: maillog_file_prefixes was known but never
// applied, so a mistyped maillog_file could write the log over any file
// the master can write. As in Postfix, maillog_file must now lie below one
// of the prefixes, and the error names the line.
func TestMaillogFilePrefixes(t *testing.T) {
	tests := []struct {
		conf, want string
	}{
		{"maillog_file = /var/log/tern.log", ""},
		{"maillog_file = /dev/stdout", ""},
		{"maillog_file =", ""},
		{"maillog_file = /var", ""},
		{"maillog_file = /etc/passwd", `main.cf:1: maillog_file value "/etc/passwd" does not match any prefix in maillog_file_prefixes (/var, /dev/stdout)`},
		{"maillog_file = /variable/log", "does not match"},
		{"maillog_file = /var/../etc/shadow", "does not match"},
		{"maillog_file = /dev/stderr", "does not match"},
		{"maillog_file_prefixes = /srv/mail/\nmaillog_file = /srv/mail/log", ""},
		{"maillog_file_prefixes = /srv/mail\n\nmaillog_file = /srv/mailx", "main.cf:3:"},
		{"maillog_file_prefixes = /\nmaillog_file = /anything", ""},
	}
	for _, tt := range tests {
		_, err := Parse("main.cf", strings.NewReader(tt.conf+"\n"))
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.conf, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: error %v, want %q", tt.conf, err, tt.want)
		}
	}
}

// TestCompatParams: names such as sample_directory and the
// *_service_name parameters, which main.cf files copied from Postfix
// carry, drew "unknown parameter" warnings. They are now known: their
// Postfix default passes in silence, another value is said to have no
// effect, with its line.
func TestCompatParams(t *testing.T) {
	c, err := Parse("main.cf", strings.NewReader("hash_queue_depth = 1\nbounce_service_name = bounce\ncleanup_service_name = mycleanup\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(c.Warnings(), "\n")
	if want := "main.cf:3: warning: cleanup_service_name has no effect in tern"; !strings.Contains(got, want) {
		t.Errorf("warnings %q lack %q", got, want)
	}
	if strings.Contains(got, "hash_queue_depth") || strings.Contains(got, "bounce_service_name") || strings.Contains(got, "unknown") {
		t.Errorf("a default value drew a warning: %q", got)
	}
}
