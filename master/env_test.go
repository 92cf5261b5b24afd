package master

import (
	"reflect"
	"testing"
)

func TestImportEnvironment(t *testing.T) {
	from := []string{"PATH=/bin", "TZ=UTC", "MYSQL_TCP_PORT=3307", "LD_PRELOAD=/evil.so", "EMPTY="}
	tests := []struct {
		list []string
		want []string
	}{
		{[]string{"MAIL_CONFIG", "TZ", "LANG=C"}, []string{"TZ=UTC", "LANG=C"}},
		{[]string{"TZ", "MYSQL_TCP_PORT", "EMPTY"}, []string{"TZ=UTC", "MYSQL_TCP_PORT=3307", "EMPTY="}},
		{[]string{"TZ=Europe/Paris"}, []string{"TZ=Europe/Paris"}},
		{nil, nil},
	}
	for _, tt := range tests {
		if got := importEnvironment(tt.list, from); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("importEnvironment(%q) = %q, want %q", tt.list, got, tt.want)
		}
	}
}
