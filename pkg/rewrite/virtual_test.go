package rewrite

import (
	"errors"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

func TestExpandVirtual(t *testing.T) {
	cases := []struct {
		name, table, in string
		want            string // space-separated
		kind            Kind
	}{
		{"not found", `{ b@x=c@x }`, "a@x", "a@x", 0},
		{"chain", `{ a@x=b@x, b@x=c@x }`, "a@x", "c@x", 0},
		{"maps to itself", `{ a@x=a@x }`, "a@x", "a@x", 0},
		{"itself and another", `{ {a@x=a@x, b@x}, b@x=c@x }`, "a@x", "a@x c@x", 0},
		{"another and itself", `{ {a@x=b@x, A@X}, b@x=d@x }`, "a@x", "d@x A@X", 0},
		{"list", `{ {a@x=b@x, c@x}, b@x=d@x }`, "a@x", "d@x c@x", 0},
		{"whitespace-separated result", `{ {a@x=b@x c@x,d@x} }`, "a@x", "b@x c@x d@x", 0},
		{"display name in result", `{ {a@x="B. User" <b@x>, c@x} }`, "a@x", "b@x c@x", 0},
		{"duplicates removed", `{ {a@x=b@x, c@x, B@X}, c@x=b@x }`, "a@x", "b@x", 0},
		{"fixed address not expanded via another", `{ {a@x=a@x, c@x}, c@x=a@x }`, "a@x", "a@x", 0},
		{"loop", `{ a@x=b@x, b@x=a@x }`, "a@x", "", KindNesting},
		{"self loop through list", `{ {a@x=b@x, c@x}, b@x=a@x }`, "a@x", "", KindNesting},
		{"catch-all", `{ known@example.com=k@x, @example.com=catch@x }`, "other@example.com", "catch@x", 0},
		{"catch-all after user", `{ known@example.com=k@x, @example.com=catch@x }`, "known@example.com", "k@x", 0},
		{"domain result", `{ @old.test=@new.test }`, "joe@old.test", "joe@new.test", 0},
		{"extension propagated", `{ user@example.com=dest@x }`, "user+foo@example.com", "dest+foo@x", 0},
		{"extension propagated to every address", `{ {user@example.com=d1@x, d2} }`, "user+foo@example.com", "d1+foo@x d2+foo", 0},
		{"empty result", `{ a@x= }`, "a@x", "", KindLookup},
		{"empty sender-like address", `{ a@x=b@x }`, "", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Settings{VirtualAlias: table(t, c.table), RecipientDelimiter: "+"}
			got, err := s.ExpandVirtual(c.in)
			checkErr(t, err, c.kind)
			if c.kind == 0 && strings.Join(got, " ") != c.want {
				t.Errorf("ExpandVirtual(%q) = %q; want %q", c.in, got, c.want)
			}
		})
	}
}

func TestExpandVirtualLimits(t *testing.T) {
	chain := `{ a@x=b@x, b@x=c@x, c@x=d@x }`
	wide := `{ {a@x=1@x, 2@x, 3@x, 4@x} }`
	cases := []struct {
		name, table   string
		rec, exp, len int
		want          string
		kind          Kind
	}{
		// Postfix counts the final lookup that finds nothing too.
		{"recursion limit reached", chain, 3, 0, 0, "", KindNesting},
		{"recursion limit just enough", chain, 4, 0, 0, "d@x", 0},
		{"expansion limit reached", wide, 0, 3, 0, "", KindExpansion},
		{"expansion limit just enough", wide, 0, 4, 0, "1@x 2@x 3@x 4@x", 0},
		{"address length limit", `{ a@x=very-long-address@example.com }`, 0, 0, 10, "", KindLength},
		{"address length within limit", `{ a@x=b@x }`, 0, 0, 3, "b@x", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Settings{VirtualAlias: table(t, c.table), RecursionLimit: c.rec, ExpansionLimit: c.exp, AddressLengthLimit: c.len}
			got, err := s.ExpandVirtual("a@x")
			checkErr(t, err, c.kind)
			if c.kind == 0 && strings.Join(got, " ") != c.want {
				t.Errorf("got %q; want %q", got, c.want)
			}
		})
	}
}

func TestExpandVirtualErrors(t *testing.T) {
	s := &Settings{VirtualAlias: failing(t)}
	_, err := s.ExpandVirtual("a@x")
	checkErr(t, err, KindLookup)
	if !errors.Is(err, maps.ErrLookup) {
		t.Errorf("error %v does not wrap the table's error", err)
	}
	var e *Error
	if errors.As(err, &e) {
		if code, dsn, text := e.Status(); code != 451 || dsn != "4.6.0" || text != "Alias expansion error" {
			t.Errorf("Status = %d %s %s", code, dsn, text)
		}
		if !strings.HasPrefix(e.Error(), "virtual_alias_maps map lookup problem for a@x") {
			t.Errorf("Error() = %q", e.Error())
		}
	}
	// An error after a successful step still fails the whole expansion.
	ok := table(t, `{ a@x=b@x }`)
	s = &Settings{VirtualAlias: append(ok, failing(t)...)}
	if got, err := s.ExpandVirtual("a@x"); err == nil {
		t.Errorf("got %q with a failing second table", got)
	}
}

func TestExpandVirtualPropagateOff(t *testing.T) {
	s := &Settings{
		VirtualAlias:       table(t, `{ user@example.com=dest@x }`),
		RecipientDelimiter: "+",
		PropagateUnmatched: map[string]bool{"canonical": true},
	}
	got, err := s.ExpandVirtual("user+foo@example.com")
	if err != nil || strings.Join(got, " ") != "dest@x" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestExpandVirtualQualify(t *testing.T) {
	s := &Settings{
		VirtualAlias: table(t, `{ {a@x=local, b@y} }`),
		Qualify:      qualifier{appendAt: true, myorigin: "origin.test"}.qualify,
	}
	got, err := s.ExpandVirtual("a@x")
	if err != nil || strings.Join(got, " ") != "local@origin.test b@y" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestExpandRecipient(t *testing.T) {
	s := &Settings{
		RecipientCanonical: table(t, `{ old@x=new@x }`),
		VirtualAlias:       table(t, `{ {new@x=a@y, b@y} }`),
	}
	got, err := s.ExpandRecipient("old@x")
	if err != nil || strings.Join(got, " ") != "a@y b@y" {
		t.Errorf("got %q, %v", got, err)
	}
	s.RecipientCanonical = failing(t)
	if _, err := s.ExpandRecipient("old@x"); err == nil {
		t.Error("canonical error not returned")
	}
}

func TestSplitResult(t *testing.T) {
	cases := []struct{ in, want string }{
		{"a@x", "a@x"},
		{" a@x ,b@x\tc@x ", "a@x|b@x|c@x"},
		{`"john doe"@x, b@x`, `"john doe"@x|b@x`},
		{`"Name, Jr." <n@x>`, "n@x"},
		{"<>, a@x", "a@x"},
		{"", ""},
		{" , ", ""},
	}
	for _, c := range cases {
		if got := strings.Join(splitResult(c.in), "|"); got != c.want {
			t.Errorf("splitResult(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}
