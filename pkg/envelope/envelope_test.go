package envelope

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

func TestRecordRoundTrip(t *testing.T) {
	arrival := time.Unix(1700000000, 123456789)
	tests := []struct {
		name string
		env  Envelope
	}{
		{"minimal", Envelope{ID: "4Abc", Sender: "a@example.com", Arrival: arrival}},
		{"null sender", Envelope{ID: "4Abd", Sender: "", Arrival: arrival}},
		{"no arrival", Envelope{ID: "4Abe", Sender: "a@example.com"}},
		{"every field", Envelope{
			ID: "4Abf", Sender: "b@example.org", Arrival: arrival,
			ClientName: "mx.example.org", ClientAddr: "192.0.2.1", Helo: "mx",
			Protocol: "ESMTP", SubmitUID: 1000, SubmitUser: "joe", FullName: "Joe User",
			EnvID: "ENV1", Ret: "HDRS", Activated: arrival.Add(time.Second), EightBit: true,
			SMTPUTF8: true, UTF8Header: true,
		}},
		{"root uid is left out", Envelope{ID: "4Ac0", Sender: "root@h", SubmitUID: 0, SubmitUser: "root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := tt.env.Record()
			// The record must survive the wire encoding too.
			dec, err := ipc.DecodeRecord(rec.Encode(nil))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			got := FromRecord(dec)
			want := tt.env
			if !got.Arrival.Equal(want.Arrival) {
				t.Errorf("arrival %v, want %v", got.Arrival, want.Arrival)
			}
			if !got.Activated.Equal(want.Activated) {
				t.Errorf("activated %v, want %v", got.Activated, want.Activated)
			}
			got.Arrival, want.Arrival = time.Time{}, time.Time{}
			got.Activated, want.Activated = time.Time{}, time.Time{}
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("round trip\n got %+v\nwant %+v", *got, want)
			}
			if rec.Has("client_name") != (tt.env.ClientName != "") {
				t.Errorf("client_name present=%v for %q", rec.Has("client_name"), tt.env.ClientName)
			}
		})
	}
}

func TestFromRecordIgnoresBadNumbers(t *testing.T) {
	rec := ipc.Record{{Name: "id", Value: "X"}, {Name: "arrival", Value: "soon"}, {Name: "submit_uid", Value: "-x"}}
	e := FromRecord(rec)
	if !e.Arrival.IsZero() || e.SubmitUID != 0 || e.ID != "X" {
		t.Errorf("got %+v", e)
	}
	if e := FromRecord(ipc.Record{{Name: "arrival", Value: "-5"}}); !e.Arrival.IsZero() {
		t.Errorf("negative arrival accepted: %v", e.Arrival)
	}
}

func TestRcptRecordRoundTrip(t *testing.T) {
	tests := []Recipient{
		{Address: "a@example.com"},
		{Address: "a@example.com", Original: "a"},
		{Address: "a@example.com", Original: "a", ORcpt: "rfc822;a@example.com", Notify: "SUCCESS,FAILURE"},
		{Address: "", Original: "", ORcpt: "", Notify: "NEVER"},
		{Address: "", Original: "orig@x", ORcpt: "", Notify: ""},
		{},
	}
	for _, rc := range tests {
		enc := RcptRecord(rc)
		if got := ParseRcptRecord(enc); got != rc {
			t.Errorf("ParseRcptRecord(RcptRecord(%+v)) = %+v", rc, got)
		}
	}
}

func TestRcptRecordDropsState(t *testing.T) {
	rc := Recipient{Address: "a@b", Status: Failed, DSN: "5.1.1", Reason: "no", Relay: "r", Notified: true}
	got := ParseRcptRecord(RcptRecord(rc))
	if got != (Recipient{Address: "a@b"}) {
		t.Errorf("state leaked through the record: %+v", got)
	}
}

func TestParseRcptRecordShort(t *testing.T) {
	tests := []struct {
		in   string
		want Recipient
	}{
		{"", Recipient{}},
		{"plain@example.com", Recipient{Address: "plain@example.com"}},
		{"a\x00b", Recipient{Address: "a", Original: "b"}},
		{"a\x00b\x00c", Recipient{Address: "a", Original: "b", ORcpt: "c"}},
		{"a\x00b\x00c\x00d\x00e", Recipient{Address: "a", Original: "b", ORcpt: "c", Notify: "d\x00e"}},
	}
	for _, tt := range tests {
		if got := ParseRcptRecord(tt.in); got != tt.want {
			t.Errorf("ParseRcptRecord(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestPendingDone(t *testing.T) {
	tests := []struct {
		name   string
		states []RcptStatus
		want   []int
	}{
		{"none", nil, nil},
		{"all pending", []RcptStatus{Pending, Pending}, []int{0, 1}},
		{"mixed", []RcptStatus{Delivered, Pending, Failed, Pending}, []int{1, 3}},
		{"all done", []RcptStatus{Delivered, Failed}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Envelope{}
			for _, s := range tt.states {
				e.Recipients = append(e.Recipients, Recipient{Address: "x@y", Status: s})
			}
			if got := e.Pending(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Pending() = %v, want %v", got, tt.want)
			}
			if got := e.Done(); got != (len(tt.want) == 0) {
				t.Errorf("Done() = %v", got)
			}
		})
	}
}

func FuzzParseRcptRecord(f *testing.F) {
	f.Add("a@example.com")
	f.Add("a\x00b\x00c\x00d")
	f.Add("\x00\x00\x00")
	f.Add("a\x00b\x00c\x00d\x00e")
	f.Fuzz(func(t *testing.T, s string) {
		rc := ParseRcptRecord(s)
		if rc.Status != Pending || rc.DSN != "" || rc.Notified {
			t.Fatalf("state from a record: %+v", rc)
		}
		// Fields without NUL bytes (all but the last) re-encode exactly.
		if strings.Count(s, "\x00") == 3 {
			if enc := RcptRecord(rc); enc != s {
				t.Fatalf("re-encoded %q as %q", s, enc)
			}
		}
		for _, v := range []string{rc.Address, rc.Original, rc.ORcpt} {
			if strings.Contains(v, "\x00") {
				t.Fatalf("NUL in a field of %+v", rc)
			}
		}
		if again := ParseRcptRecord(RcptRecord(rc)); again != rc {
			t.Fatalf("not stable: %+v then %+v", rc, again)
		}
	})
}

func TestVERPSender(t *testing.T) {
	for _, tt := range []struct{ sender, rcpt, delims, want string }{
		{"list@origin.example", "user@domain.example", "+=", "list+user=domain.example@origin.example"},
		{"owner-list@dev.example.com", "friend@example.com", "-=", "owner-list-friend=example.com@dev.example.com"},
		{"list@origin.example", "user", "+=", "list+user@origin.example"},
		{"list", "user@domain.example", "+=", "list+user=domain.example"},
		{"", "user@domain.example", "+=", ""},
		{"list@origin.example", "user@domain.example", "", "list@origin.example"},
	} {
		if got := VERPSender(tt.sender, tt.rcpt, tt.delims); got != tt.want {
			t.Errorf("VERPSender(%q, %q, %q) = %q, want %q", tt.sender, tt.rcpt, tt.delims, got, tt.want)
		}
	}
}

func TestVERPDelimitersOK(t *testing.T) {
	for _, tt := range []struct {
		delims string
		want   bool
	}{{"+=", true}, {"-=", true}, {"+", false}, {"+=-", false}, {"+x", false}, {"", false}} {
		if got := VERPDelimitersOK(tt.delims, "-=+"); got != tt.want {
			t.Errorf("VERPDelimitersOK(%q) = %v", tt.delims, got)
		}
	}
}
