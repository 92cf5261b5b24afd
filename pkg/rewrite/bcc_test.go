package rewrite

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestBCC(t *testing.T) {
	s := &Settings{
		AlwaysBCC:    "archive",
		SenderBCC:    table(t, "{ boss@example.com=boss-copy@example.com, @sales.example=sales-log@example.com }"),
		RecipientBCC: table(t, "{ help@example.com=help-log@example.com, {team@example.com=t1@example.com, t2@example.com} }"),
		Qualify: func(a string) string {
			if a != "" && !strings.Contains(a, "@") {
				return a + "@example.com"
			}
			return a
		},
	}
	tests := []struct {
		sender string
		rcpts  []string
		want   string
	}{
		{"joe@else.example", []string{"x@else.example"}, "[archive@example.com]"},
		{"boss@example.com", []string{"help@example.com", "help@example.com"}, "[archive@example.com boss-copy@example.com help-log@example.com]"},
		{"ann@sales.example", []string{"team@example.com"}, "[archive@example.com sales-log@example.com t1@example.com t2@example.com]"},
		// The null sender has no sender BCC.
		{"", []string{"Archive@example.com"}, "[archive@example.com]"},
	}
	for _, tt := range tests {
		got, err := s.BCC(tt.sender, tt.rcpts)
		if err != nil || fmt.Sprint(got) != tt.want {
			t.Errorf("BCC(%q, %q) = %v, %v; want %s", tt.sender, tt.rcpts, got, err, tt.want)
		}
	}
	s.RecipientBCC = failing(t)
	if _, err := s.BCC("a@b.example", []string{"c@d.example"}); err == nil {
		t.Error("a failing recipient_bcc_maps gave no error")
	} else if e := (*Error)(nil); !errors.As(err, &e) {
		t.Errorf("error %v is not a rewrite error", err)
	}
}
