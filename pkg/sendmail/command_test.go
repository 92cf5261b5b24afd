package sendmail

import "testing"

func TestConfigFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"-C", "/etc/other", "-t"}, "/etc/other"},
		{[]string{"-oi", "-C/etc/x", "a@b"}, "/etc/x"},
		{[]string{"-f", "a@b", "rcpt", "-C", "/late"}, ""},
		{[]string{"-f", "a@b", "-F", "Full Name", "-C", "/after-args"}, "/after-args"},
		{[]string{"--", "-C", "/x"}, ""},
		{[]string{"-C"}, ""},
	}
	for _, tt := range tests {
		if got := configFlag(tt.args); got != tt.want {
			t.Errorf("configFlag(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
