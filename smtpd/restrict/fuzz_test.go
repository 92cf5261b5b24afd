package restrict

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

// constMap answers every lookup with one value.
type constMap struct{ value string }

func (m constMap) Lookup(string) (string, bool, error) { return m.value, true, nil }
func (m constMap) Name() string                        { return "const:" }
func (m constMap) Close() error                        { return nil }

// fuzzChecker is a Checker whose tables all return value.
func fuzzChecker(t *testing.T, conf, value string) *Checker {
	d := newWorld().deps()
	d.Logf = nil
	d.OpenMap = func(spec string) (maps.Map, error) { return constMap{value}, nil }
	c, err := New(parseConf(t, conf), d)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// checkReply verifies the shape of any reply the engine produces.
func checkReply(t *testing.T, r Result) {
	if r.Reply.IsZero() {
		return
	}
	code := r.Reply.Code
	if code < 400 || code > 599 {
		t.Fatalf("reply code %d out of range: %+v", code, r)
	}
	if !validDSN(r.Reply.Enhanced) || int(r.Reply.Enhanced[0]-'0') != code/100 {
		t.Fatalf("enhanced code %q does not match %d", r.Reply.Enhanced, code)
	}
	if r.Restriction == "" {
		t.Fatalf("reply without deciding restriction: %+v", r)
	}
}

func FuzzParseRestrictions(f *testing.F) {
	for _, s := range []string{
		"permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
		"check_recipient_access hash:/etc/postfix/access, reject",
		"warn_if_reject reject_non_fqdn_recipient, defer_if_permit",
		"inline:{ a=b, { c = d e } }, strict, reject_unlisted_recipient",
		"check_sender_access", "{ unbalanced", "check_client_access nocolon", "}}}, ,",
		"defer_if_reject reject_unknown_recipient_domain permit",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		if len(value) > 2000 {
			return
		}
		c := fuzzChecker(t, "smtpd_restriction_classes = strict\nstrict = reject\n", "REJECT")
		defer c.Close()
		l, err := c.compileList("smtpd_recipient_restrictions", value, listRecipient)
		if err != nil {
			if !strings.Contains(err.Error(), "smtpd_recipient_restrictions") {
				t.Fatalf("error %q does not name the parameter", err)
			}
			return
		}
		if len(l.steps) > len(splitWords(value)) {
			t.Fatalf("%d steps from %d words", len(l.steps), len(splitWords(value)))
		}
		for _, s := range l.steps {
			if (s.kind == kImplicitMap || s.table != "") && c.tables[s.table] == nil {
				t.Fatalf("step %+v has no open table", s)
			}
		}
		c.lists[listRecipient] = l
		for _, stage := range []Stage{Rcpt, Data} {
			checkReply(t, c.Check(context.Background(), stage, foreignFacts()))
		}
	})
}

func FuzzAccessResult(f *testing.F) {
	for _, s := range []string{
		"OK", "REJECT", "REJECT 5.7.2 go away", "DEFER later", "550 5.1.1 no", "450", "450 4.9.999 x",
		"599 9.9.9 bad dsn", "DEFER_IF_PERMIT", "defer_if_reject x", "permit_mynetworks, reject",
		"hash:/x", "DISCARD", "WARN w", "", "  ", "strict", "reject_unauth_destination",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		a := parseAccessResult(value)
		if a.kind == actCode && (a.code < 400 || a.code > 599) {
			t.Fatalf("bad code action %+v", a)
		}
		if a.dsn != "" && !validDSN(a.dsn) {
			t.Fatalf("bad dsn in %+v", a)
		}
		conf := "smtpd_restriction_classes = strict\nstrict = reject\n" +
			"smtpd_recipient_restrictions = check_recipient_access static:x, check_sender_access static:x\n"
		c := fuzzChecker(t, conf, value)
		defer c.Close()
		checkReply(t, c.Check(context.Background(), Rcpt, foreignFacts()))
	})
}
