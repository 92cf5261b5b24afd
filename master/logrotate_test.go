package master

import (
	"strings"
	"testing"
	"time"
)

func TestStrftime(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct{ format, want, err string }{
		{"%Y%m%d-%H%M%S", "20260304-050607", ""}, // Postfix's default
		{"%y%j.%%", "26063.%", ""},
		{"%F_%T", "2026-03-04_05:06:07", ""},
		{"%s", "1772600767", ""},
		{"old", "old", ""},
		{"%Q", "", "%Q is not supported"},
		{"%Y%", "", "ends in %"},
		{"", "", "empty"},
		{"../%Y", "", "another folder"},
	}
	for _, tt := range tests {
		got, err := strftime(tt.format, at)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %q, %v; want error %q", tt.format, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %q, %v; want %q", tt.format, got, err, tt.want)
		}
	}
}
