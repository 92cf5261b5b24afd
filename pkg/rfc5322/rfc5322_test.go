package rfc5322

import "testing"

func TestCommentEnd(t *testing.T) {
	tests := []struct {
		s      string
		i      int
		end    int
		closed bool
	}{
		{"(a) x", 0, 3, true},
		{"x (a (b) c) y", 2, 11, true},
		{`(a \) b) y`, 0, 8, true},
		{"(open", 0, 5, false},
		{`(a \`, 0, 4, false},
		{"((a)", 0, 4, false},
	}
	for _, tt := range tests {
		end, closed := CommentEnd(tt.s, tt.i)
		if end != tt.end || closed != tt.closed {
			t.Errorf("CommentEnd(%q, %d) = %d, %v; want %d, %v", tt.s, tt.i, end, closed, tt.end, tt.closed)
		}
	}
}

func FuzzCommentEnd(f *testing.F) {
	f.Add("(a (b) c)", 0)
	f.Add(`(\`, 0)
	f.Fuzz(func(t *testing.T, s string, i int) {
		if i < 0 || i >= len(s) || s[i] != '(' {
			return
		}
		end, closed := CommentEnd(s, i)
		if end <= i || end > len(s) || closed && s[end-1] != ')' {
			t.Errorf("CommentEnd(%q, %d) = %d, %v", s, i, end, closed)
		}
	})
}
