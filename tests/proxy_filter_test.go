package tests

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// proxyMasterCF is a before-filter smtpd on 127.0.0.1 whose
// smtpd_proxy_filter main.cf sets, and an after-filter smtpd on a unix
// socket, where a filter would hand mail back.
const proxyMasterCF = testMasterCF + `127.0.0.1:0 inet n - n - - smtpd
filtered unix - - n - - smtpd
  -o smtpd_proxy_filter=
  -o smtpd_recipient_restrictions=$filtered_recipient_restrictions
`

// TestProxyFilterSMTPSink: smtpd_proxy_filter was refused as not
// supported. With Postfix's smtp-sink as the before-queue filter, the
// filter gets each transaction as it happens (MAIL, only the recipients
// smtpd accepted, the content dot-stuffed with smtpd's Received header on
// top) and the client gets the filter's replies; nothing is queued by
// the before-filter smtpd.
func TestProxyFilterSMTPSink(t *testing.T) {
	rcpt := localUser(t)
	dump := t.TempDir()
	sink := startSMTPSink(t, dump)
	in := newInstance(t, options{master: proxyMasterCF, main: []string{
		"smtpd_proxy_filter = " + sink,
		"smtpd_proxy_ehlo = before.example.tst",
		"mynetworks = 127.0.0.0/8",
	}})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", rcpt+"@example.tst,nosuchuser@example.tst",
		"--header", "Subject: through the filter", "--body", "first line\n.dotted line\nlast line")
	if err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	if !strings.Contains(out, "<~  550 5.1.1 <nosuchuser@example.tst>: Recipient address rejected") &&
		!strings.Contains(out, "<** 550 5.1.1 <nosuchuser@example.tst>") {
		t.Errorf("smtpd's own RCPT check did not answer:\n%s", out)
	}
	var got string
	waitFor(t, 10*time.Second, "the filter's dump", func() bool {
		entries, _ := os.ReadDir(dump)
		if len(entries) == 0 {
			return false
		}
		b, _ := os.ReadFile(filepath.Join(dump, entries[0].Name()))
		got = string(b)
		return strings.Contains(got, "last line")
	})
	for _, want := range []string{
		"X-Helo-Args: before.example.tst",
		"X-Mail-Args: <a@remote.tst>",
		"X-Rcpt-Args: <" + rcpt + "@example.tst>",
		"\n.dotted line\n",
		"Subject: through the filter",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the filter got no %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "X-Rcpt-Args: <nosuchuser") {
		t.Errorf("a recipient smtpd refused reached the filter:\n%s", got)
	}
	received := regexp.MustCompile(`(?m)^Received: from \S+ \(\S+ \[127\.0\.0\.1\]\)\n\tby mail\.example\.tst \(tern\) with ESMTP\n\tfor <` + rcpt + `@example\.tst>; `)
	if !received.MatchString(got) {
		t.Errorf("no Received header from smtpd, without a queue id:\n%s", got)
	}
	in.waitLog("NOQUEUE: proxy-accept: END-OF-MESSAGE from ", 10*time.Second)
	if strings.Contains(in.log(), ": client=") {
		t.Errorf("the before-filter smtpd queued the message:\n%s", in.log())
	}
}

// TestProxyFilterRefusals: the filter's refusals reach the client at the
// command they answer, and a filter that cannot be reached gives 451
// 4.3.0 at MAIL, the details only in the log.
func TestProxyFilterRefusals(t *testing.T) {
	rcpt := localUser(t)
	tests := []struct {
		name string
		sink []string // smtp-sink options; nil: no filter listening
		want string
		log  string
	}{
		{"RCPT refused", []string{"-f", "RCPT"}, "<** 500 5.3.0 Error: command failed", "NOQUEUE: proxy-reject: RCPT from "},
		{"content refused", []string{"-f", "."}, "<** 500 5.3.0 Error: command failed", "NOQUEUE: proxy-reject: END-OF-MESSAGE from "},
		{"filter down", nil, "<** 451 4.3.0 Error: queue file write error", "warning: connect to proxy filter "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "127.0.0.1:" + freePort(t) // nothing listens there
			if tt.sink != nil {
				target = startSMTPSink(t, t.TempDir(), tt.sink...)
			}
			in := newInstance(t, options{master: proxyMasterCF, main: []string{"smtpd_proxy_filter = " + target}})
			in.start()
			out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "a@remote.tst", "--to", rcpt+"@example.tst")
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("swaks: %v, want %q:\n%s", err, tt.want, out)
			}
			in.waitLog(tt.log, 10*time.Second)
		})
	}
}

// TestProxyFilterIntoTern: the filter's place taken by a second tern
// smtpd on a unix socket (the after-filter service of Postfix's example),
// smtpd_proxy_filter = unix:private/filtered. Its refusal of a recipient
// reaches the client at RCPT, its "queued as" at the end of the message,
// and the mail is delivered with both smtpds' Received headers.
func TestProxyFilterIntoTern(t *testing.T) {
	rcpt := localUser(t)
	in := newInstance(t, options{master: proxyMasterCF, main: []string{
		"smtpd_proxy_filter = unix:private/filtered",
		"mynetworks = 127.0.0.0/8",
		"smtpd_authorized_xforward_hosts = 127.0.0.0/8",
		"filtered_recipient_restrictions = check_recipient_access inline:{ {postmaster@example.tst = REJECT not past the filter} }, permit_mynetworks, reject",
	}})
	in.start()
	addr := in.smtpAddr("127.0.0.1:0")
	out, err := swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", "postmaster@example.tst")
	if err == nil || !strings.Contains(out, "<** 554 5.7.1 <postmaster@example.tst>: Recipient address rejected: not past the filter") {
		t.Errorf("the inner smtpd's refusal did not reach the client at RCPT: %v\n%s", err, out)
	}
	out, err = swaks(t, "--server", addr, "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--header", "Subject: filtered by tern", "--body", "through two smtpds")
	if err != nil || !regexp.MustCompile(`<[-~] +250 2\.0\.0 Ok: queued as \w+`).MatchString(out) {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(rcpt, "through two smtpds")
	m := in.mbox(rcpt)
	if n := strings.Count(m, "Received: from "); n < 2 {
		t.Errorf("%d Received headers, want both smtpds':\n%s", n, m)
	}
}

// TestProxyFilterSpeedAdjust: with smtpd_proxy_options = speed_adjust
// smtp-sink gets the transaction once the message is in, and the client
// its reply.
func TestProxyFilterSpeedAdjust(t *testing.T) {
	rcpt := localUser(t)
	dump := t.TempDir()
	sink := startSMTPSink(t, dump)
	in := newInstance(t, options{master: proxyMasterCF, main: []string{"smtpd_proxy_filter = " + sink, "smtpd_proxy_options = speed_adjust"}})
	in.start()
	out, err := swaks(t, "--server", in.smtpAddr("127.0.0.1:0"), "--from", "a@remote.tst", "--to", rcpt+"@example.tst",
		"--body", "kept until it was all in\n.dotted")
	if err != nil || !strings.Contains(out, "<-  250 2.0.0 Ok") {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	waitFor(t, 10*time.Second, "the filter's dump", func() bool {
		entries, _ := os.ReadDir(dump)
		if len(entries) == 0 {
			return false
		}
		b, _ := os.ReadFile(filepath.Join(dump, entries[0].Name()))
		return strings.Contains(string(b), "kept until it was all in\n.dotted\n") && strings.Contains(string(b), "X-Rcpt-Args: <"+rcpt+"@example.tst>")
	})
	in.waitLog("NOQUEUE: proxy-accept: END-OF-MESSAGE from ", 10*time.Second)
}
