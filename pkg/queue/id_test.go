package queue

import (
	"strings"
	"testing"
	"time"
)

func TestIDsStrictlyIncreasing(t *testing.T) {
	base := time.Date(2024, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		times func(i int) time.Time
		n     int
	}{
		{"advancing clock", func(i int) time.Time { return base.Add(time.Duration(i) * time.Microsecond) }, 1000},
		{"same microsecond", func(int) time.Time { return base }, 1000},
		{"clock going back", func(i int) time.Time { return base.Add(-time.Duration(i) * time.Millisecond) }, 1000},
		{"sequence overflow", func(int) time.Time { return base }, int(maxSeq) + 10},
		{"real clock", func(int) time.Time { return time.Now() }, 2000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var g idGen
			prev := ""
			for i := 0; i < tc.n; i++ {
				id := g.next(tc.times(i))
				if !ValidID(id) {
					t.Fatalf("id %q is not valid", id)
				}
				if id <= prev {
					t.Fatalf("id %d %q not after %q", i, id, prev)
				}
				prev = id
			}
		})
	}
}

func TestIDEncodesTime(t *testing.T) {
	var g idGen
	now := time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)
	id := g.next(now)
	sec, usec, seq := decodeID(id)
	if sec != now.Unix() || usec != 678901 || seq != 0 {
		t.Fatalf("decode %q = %d.%06d seq %d, want %d.678901 seq 0", id, sec, usec, seq, now.Unix())
	}
	if later := g.next(now.Add(time.Second)); later <= id {
		t.Fatalf("later id %q not after %q", later, id)
	}
}

func TestIDObserve(t *testing.T) {
	var a, b idGen
	future := a.next(time.Now().Add(time.Hour))
	b.observe(future)
	if id := b.next(time.Now()); id <= future {
		t.Fatalf("id %q after observing %q is not greater", id, future)
	}
}

func TestValidID(t *testing.T) {
	var g idGen
	good := g.next(time.Now())
	tests := []struct {
		id   string
		want bool
	}{
		{good, true},
		{"0000000000000", true},
		{"", false},
		{good[:12], false},
		{good + "0", false},
		{"../../etc/pas", false},
		{"ABCDEFGHJKLMN", false}, // vowels
		{"0000000B00000", true},
		{"000000zzzz000", false}, // microseconds >= 1e6
		{"00000/0000000", false},
		{"0000000000.00", false},
		{strings.Repeat("z", idLen), false},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func FuzzValidID(f *testing.F) {
	f.Add("0000000000000")
	f.Add("../../etc/pas")
	f.Add("SbcdFGH3Jk2z0")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidID(s) {
			return
		}
		if strings.ContainsAny(s, "/.\x00") || len(s) != idLen {
			t.Fatalf("ValidID accepted %q", s)
		}
		sec, usec, seq := decodeID(s)
		b := encodeBase52(nil, sec, secWidth)
		b = encodeBase52(b, usec, usecWidth)
		b = encodeBase52(b, seq, seqWidth)
		if string(b) != s {
			t.Fatalf("re-encoding %q gave %q", s, b)
		}
	})
}
